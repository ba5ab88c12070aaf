package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/internal/names"
	"github.com/wardgate/wardgate/ledger/proof"
)

// addWitnessFlags registers --witnesses and --witness-key on verify.
func addWitnessFlags(f *pflag.FlagSet, vf *verifyFlags) {
	f.IntVar(&vf.witnesses, "witnesses", 0, "require N cosignatures of the receipt's checkpoint by the --witness-key witnesses (offline: instead of the chain; with --rpc: as well)")
	f.StringArrayVar(&vf.witnessKeys, "witness-key", nil, "a trusted witness: BOX=KEY, the peer's name and its Ed25519 record key (hex, base64 or PEM file) as its attestation report shows; repeat per peer")
}

// witnessOptions turns --witness-key into cosignature verifiers and
// --witnesses into the count Verify requires.
func witnessOptions(vf verifyFlags, o *proof.VerifyOptions) error {
	if vf.witnesses < 0 {
		return usageError{fmt.Errorf("--witnesses %d: give a count of 0 or more", vf.witnesses)}
	}
	if vf.witnesses > len(vf.witnessKeys) {
		return usageError{fmt.Errorf("--witnesses %d needs at least %d --witness-key BOX=KEY flags, got %d", vf.witnesses, vf.witnesses, len(vf.witnessKeys))}
	}
	seen := map[string]bool{}
	for _, wk := range vf.witnessKeys {
		v, box, err := parseWitnessKey(wk)
		if err != nil {
			return usageError{fmt.Errorf("--witness-key %.60q: %w", wk, err)}
		}
		if seen[box] {
			return usageError{fmt.Errorf("--witness-key: witness %q given twice (each peer counts once)", box)}
		}
		seen[box] = true
		o.Witnesses = append(o.Witnesses, v)
	}
	o.MinWitnesses = vf.witnesses
	return nil
}

// parseWitnessKey reads BOX=KEY.
func parseWitnessKey(s string) (note.Verifier, string, error) {
	box, key, ok := strings.Cut(s, "=")
	if !ok {
		return nil, "", fmt.Errorf("write BOX=KEY, e.g. city-general=<hex record key>")
	}
	if err := names.Check(box); err != nil {
		return nil, "", err
	}
	pub, err := parseEd25519Key(key)
	if err != nil {
		return nil, "", err
	}
	v, err := proof.CosignatureVerifier(box, pub)
	return v, box, err
}
