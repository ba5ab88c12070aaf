package proof

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	tlog "github.com/transparency-dev/formats/log"
)

// A checkpoint of version 2 is a C2SP tlog-checkpoint signed note
// (c2sp.org/tlog-checkpoint, c2sp.org/signed-note): the origin line, the
// size, the base64 root, then a blank line and the box's Ed25519 signature
// line. Witnesses' cosignatures (c2sp.org/tlog-cosignature) are further
// signature lines on the same note. Version 1 checkpoints (the box's own
// text under checkpointDomain) still verify: see Checkpoint.VerifySignature.

// OriginPrefix starts the origin of every wardgate log: the origin is
// OriginPrefix + the box name, so a verifier derives it from the entry's
// log without configuration. ".example" says it is a name, not a URL to
// fetch (docs/decisions.md, "C2SP checkpoints").
const OriginPrefix = "wardgate.example/log/"

// WitnessPrefix starts the key name of every box's witness cosignatures.
const WitnessPrefix = "wardgate.example/witness/"

// MaxNoteSize bounds a checkpoint note: three short lines and at most
// MaxCosignatures+1 signature lines of about 120 bytes.
const MaxNoteSize = 16 << 10

// MaxCosignatures bounds the cosignatures one checkpoint carries.
const MaxCosignatures = 64

// ErrTooFewCosignatures: the checkpoint has fewer valid cosignatures by
// trusted witnesses than required.
var ErrTooFewCosignatures = errors.New("proof: too few witness cosignatures")

// Origin is the C2SP origin line of the log of box.
func Origin(box string) string { return OriginPrefix + box }

// WitnessName is the cosignature key name of box's witness.
func WitnessName(box string) string { return WitnessPrefix + box }

// LogVerifier is the signed-note verifier of the log of box under its
// record key.
func LogVerifier(box string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(Origin(box), pub)
	if err != nil {
		return nil, fmt.Errorf("proof: log verifier of %q: %w", box, err)
	}
	return note.NewVerifier(vkey)
}

// CosignatureVerifier is the tlog-cosignature/v1 verifier of box's witness
// key, built by transparency-dev/formats so that what wardgate writes is
// checked by the reference code.
func CosignatureVerifier(box string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(WitnessName(box), pub)
	if err != nil {
		return nil, fmt.Errorf("proof: witness verifier of %q: %w", box, err)
	}
	cv, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("proof: witness verifier of %q: %w", box, err)
	}
	return fnote.NewVerifierForCosignatureV1(cv)
}

// noteSigner signs notes with a Signer (which may one day be TPM-backed, so
// it never hands out the private key). cosign selects tlog-cosignature/v1.
type noteSigner struct {
	s      Signer
	name   string
	hash   uint32
	cosign bool
	now    func() time.Time
}

func (n *noteSigner) Name() string    { return n.name }
func (n *noteSigner) KeyHash() uint32 { return n.hash }

// Sign signs msg, or for a cosigner the cosignature/v1 message over it
// (c2sp.org/tlog-cosignature: "cosignature/v1\ntime T\n" + note text),
// returned as the 8-byte timestamp followed by the signature.
func (n *noteSigner) Sign(msg []byte) ([]byte, error) {
	if !n.cosign {
		return n.s.Sign(msg)
	}
	t := uint64(n.now().Unix())
	m := append(fmt.Appendf(nil, "cosignature/v1\ntime %d\n", t), msg...)
	sig, err := n.s.Sign(m)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(nil, t), sig...), nil
}

// CosignatureSigner is box's witness cosigner: tlog-cosignature/v1 with
// its record key (see docs/decisions.md for why the record key).
func CosignatureSigner(s Signer, box string, now func() time.Time) (note.Signer, error) {
	v, err := CosignatureVerifier(box, s.Public())
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &noteSigner{s: s, name: v.Name(), hash: v.KeyHash(), cosign: true, now: now}, nil
}

func logSigner(s Signer, box string) (note.Signer, error) {
	v, err := LogVerifier(box, s.Public())
	if err != nil {
		return nil, err
	}
	return &noteSigner{s: s, name: v.Name(), hash: v.KeyHash()}, nil
}

// NoteText is the C2SP checkpoint body of c: origin, size, base64 root.
func (c *Checkpoint) NoteText() []byte {
	return tlog.Checkpoint{Origin: Origin(c.Log), Size: c.Size, Hash: c.Root[:]}.Marshal()
}

// verifyNote checks a version 2 checkpoint: the note is signed by the log's
// key and says exactly this checkpoint's origin, size and root.
func (c *Checkpoint) verifyNote(pub ed25519.PublicKey) error {
	if len(c.Note) > MaxNoteSize {
		return fmt.Errorf("%w: checkpoint note of %d bytes, limit %d", ErrBadSignature, len(c.Note), MaxNoteSize)
	}
	v, err := LogVerifier(c.Log, pub)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	got, rest, _, err := tlog.ParseCheckpoint([]byte(c.Note), Origin(c.Log), v)
	if err != nil {
		return fmt.Errorf("%w: checkpoint of log %q at size %d: %w", ErrBadSignature, c.Log, c.Size, err)
	}
	if len(rest) != 0 || got.Size != c.Size || !bytes.Equal(got.Hash, c.Root[:]) {
		return fmt.Errorf("%w: the checkpoint note of log %q says size %d root %x, the checkpoint says size %d root %s",
			ErrBadSignature, c.Log, got.Size, got.Hash, c.Size, c.Root)
	}
	return nil
}

// Cosigners lists the witnesses among ws whose cosignature on the
// checkpoint's note verifies. A cosignature by a known witness that does
// not verify is an error, not a silent omission.
func (c *Checkpoint) Cosigners(ws []note.Verifier) ([]string, error) {
	if c.Note == "" || len(ws) == 0 {
		return nil, nil
	}
	n, err := note.Open([]byte(c.Note), note.VerifierList(ws...))
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: cosignature on checkpoint at size %d: %w", ErrBadSignature, c.Size, err)
	}
	names := make([]string, 0, len(n.Sigs))
	for _, s := range n.Sigs {
		names = append(names, s.Name)
	}
	return names, nil
}

// AddCosignatures appends witness signature lines (as a tlog-witness
// add-checkpoint reply carries them) to the checkpoint's note, skipping
// lines it already has.
func (c *Checkpoint) AddCosignatures(lines []byte) error {
	if c.Note == "" {
		return fmt.Errorf("%w: a version 1 checkpoint cannot carry cosignatures", ErrBadSignature)
	}
	for l := range strings.Lines(string(lines)) {
		if !strings.HasPrefix(l, "— ") || !strings.HasSuffix(l, "\n") {
			return fmt.Errorf("%w: cosignature line %q is not a signed-note signature line", ErrBadSignature, strings.TrimSpace(l))
		}
		if strings.Contains(c.Note, "\n"+l) {
			continue
		}
		if strings.Count(c.Note, "\n— ") > MaxCosignatures {
			return fmt.Errorf("%w: checkpoint already carries %d cosignatures", ErrBadSignature, MaxCosignatures)
		}
		c.Note += l
	}
	return nil
}

// CosignatureTime is when a witness made a tlog-cosignature/v1 signature.
func CosignatureTime(s note.Signature) (time.Time, error) { return fnote.CoSigV1Timestamp(s) }
