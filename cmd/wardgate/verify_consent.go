package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/consent"
)

// errConsentMismatch: --consent names a Consent other than the one the
// signed entry was released under.
var errConsentMismatch = errors.New("verify: the consent file is not the consent the record was released under")

// consentOutput is the consent part of `wardgate verify`, from the signed
// entry; Checked says whether --consent matched it.
type consentOutput struct {
	ID          string `json:"id,omitempty"`
	Version     string `json:"version,omitempty"`
	Digest      string `json:"digest,omitempty"`
	PatientHash string `json:"patient_hash,omitempty"`
	Reason      string `json:"reason,omitempty"` // refused entries
	Checked     bool   `json:"checked"`
}

// describeConsent fills in the entry's consent fields, if it has any.
func describeConsent(out *verifyOutput, e *proof.Entry) {
	c := e.Consent
	if c.IsZero() {
		return
	}
	out.Consent = &consentOutput{ID: c.ID, Version: c.Version, Reason: c.Reason, PatientHash: hex.EncodeToString(c.Patient[:])}
	if c.ID != "" {
		out.Consent.Digest = hex.EncodeToString(c.Digest[:])
	}
}

// checkConsentFile checks that the Consent in path is the one the entry
// names: same id and version, and its bytes hash to the signed digest.
func checkConsentFile(path string, out *verifyOutput) error {
	if path == "" {
		return nil
	}
	raw, err := readBounded(path, consent.MaxConsentSize)
	if err != nil {
		return fmt.Errorf("--consent: %w", err)
	}
	if out.Consent == nil || out.Consent.ID == "" {
		return fmt.Errorf("%w: the signed entry names no consent (sent without the consent gate)", errConsentMismatch)
	}
	c, err := consent.Parse(raw)
	if err != nil {
		return fmt.Errorf("--consent: %w", err)
	}
	d := sha256.Sum256(raw)
	if got := hex.EncodeToString(d[:]); got != out.Consent.Digest || c.ID != out.Consent.ID {
		return fmt.Errorf("%w: file is consent %q with digest %s, the entry names %q with digest %s", errConsentMismatch, c.ID, got, out.Consent.ID, out.Consent.Digest)
	}
	out.Consent.Checked = true
	return nil
}

// printConsent prints the consent lines of `wardgate verify`.
func printConsent(w io.Writer, v verifyOutput) {
	c := v.Consent
	switch {
	case c == nil:
	case c.Reason != "":
		fmt.Fprintf(w, "  refused:\t%s, patient hash %s\n", c.Reason, c.PatientHash)
	default:
		chk := "not checked (use --consent FILE)"
		if c.Checked {
			chk = "matches --consent"
		}
		fmt.Fprintf(w, "  consent:\t%s version %s, sha256:%s, %s\n", c.ID, c.Version, c.Digest, chk)
	}
}
