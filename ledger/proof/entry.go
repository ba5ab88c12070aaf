package proof

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Kind says what an entry records.
type Kind uint8

const (
	KindSent        Kind = 1 // a record this box forwarded to a peer
	KindReceived    Kind = 2 // a record this box received from a peer
	KindAttestation Kind = 3 // an attestation report
	KindRevocation  Kind = 4 // a revocation (of a peer, key or manifest)
	// KindRefused is a record the consent gate refused: its digest, the
	// salted patient hash and the reason, never the body.
	KindRefused Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindSent:
		return "sent"
	case KindReceived:
		return "received"
	case KindAttestation:
		return "attestation"
	case KindRevocation:
		return "revocation"
	case KindRefused:
		return "refused"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= KindSent && k <= KindRefused }

// SaltSize is the length of the random salt in every leaf. The salt keeps a
// small record (a short HL7 ack, say) from being guessed by hashing
// candidates against a leaf hash seen in someone else's proof.
const SaltSize = 16

// maxName bounds the strings in an entry so that the encoding stays small and
// a hostile receipt cannot make the parser allocate much.
const MaxNameLen = 255

// Entry is one line of a box's log. The caller fills Kind, Digest, Sender,
// Receiver, ContentType and (optionally) Time; the ledger fills Log, Seq, Salt
// and Signature when it appends.
type Entry struct {
	Kind        Kind      // what happened
	Digest      [32]byte  // SHA-256 of the record (or report) bytes
	Sender      string    // sending box name
	Receiver    string    // receiving box name
	ContentType string    // e.g. "application/hl7-v2"
	Time        time.Time // when; the ledger sets it if zero
	Log         string    // the box whose log this is
	Seq         uint64    // per-box sequence number; equals the leaf index
	Salt        [SaltSize]byte
	// Signature is the box's record key's Ed25519 signature over the root
	// of the signing batch the entry was appended in (see BatchProof), or
	// over SignedBytes when Batch.Size is 0.
	Signature []byte
	Batch     BatchProof
	// Consent binds a sent record to the consent that released it, and a
	// refused one to its reason; an entry that sets it is encoded as v2.
	Consent ConsentFields
}

// ConsentFields are the consent gate's part of an entry. Patient is the
// box's salted hash of the patient identifier, never the identifier.
type ConsentFields struct {
	ID      string   // the Consent's FHIR id (sent entries)
	Version string   // its meta.versionId, or the box's digest-based version
	Digest  [32]byte // SHA-256 of the Consent resource as posted
	Patient [32]byte // salted patient hash
	Reason  string   // refusal reason (refused entries), e.g. no_consent
}

// IsZero reports whether no consent field is set.
func (c *ConsentFields) IsZero() bool { return *c == ConsentFields{} }

// entryBatchDomain separates entry batch roots from other batch signatures.
const entryBatchDomain = "entry/v1\x00"

// EntryDomain separates entry signatures from every other use of the key.
// EntryDomainV2 marks the encoding with consent fields; it is as long as
// EntryDomain, so the digest sits at the same offset in both. An entry
// without consent fields is still encoded as v1, so receipts issued
// before v2 verify unchanged.
const (
	EntryDomain   = "wardgate/ledger/entry/v1\x00"
	EntryDomainV2 = "wardgate/ledger/entry/v2\x00"
)

// v2 reports whether e needs the v2 encoding.
func (e *Entry) v2() bool { return e.Kind == KindRefused || !e.Consent.IsZero() }

// ErrBadEntry is returned when an entry cannot be encoded or decoded.
var ErrBadEntry = errors.New("proof: malformed entry")

func (e *Entry) Check() error {
	if !e.Kind.valid() {
		return fmt.Errorf("%w: kind %d is not one of sent, received, attestation, revocation, refused", ErrBadEntry, e.Kind)
	}
	for _, f := range []struct{ name, v string }{{"sender", e.Sender}, {"receiver", e.Receiver}, {"content type", e.ContentType}, {"log", e.Log},
		{"consent id", e.Consent.ID}, {"consent version", e.Consent.Version}, {"refusal reason", e.Consent.Reason}} {
		if len(f.v) > MaxNameLen {
			return fmt.Errorf("%w: %s is %d bytes, limit is %d", ErrBadEntry, f.name, len(f.v), MaxNameLen)
		}
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// SignedBytes is the canonical encoding the signature covers: every field
// except the signature, length-prefixed, after a domain string.
func (e *Entry) SignedBytes() []byte {
	b := make([]byte, 0, 128+len(e.Sender)+len(e.Receiver)+len(e.ContentType)+len(e.Log))
	return e.appendSigned(b)
}

func (e *Entry) appendSigned(b []byte) []byte {
	if e.v2() {
		b = append(b, EntryDomainV2...)
	} else {
		b = append(b, EntryDomain...)
	}
	b = append(b, byte(e.Kind))
	b = append(b, e.Digest[:]...)
	b = appendString(b, e.Sender)
	b = appendString(b, e.Receiver)
	b = appendString(b, e.ContentType)
	b = appendString(b, e.Log)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.Salt[:]...)
	if e.v2() {
		b = e.Consent.append(b)
	}
	return b
}

func (c *ConsentFields) append(b []byte) []byte {
	b = appendString(b, c.ID)
	b = appendString(b, c.Version)
	b = append(b, c.Digest[:]...)
	b = append(b, c.Patient[:]...)
	return appendString(b, c.Reason)
}

// parseConsent reads the v2 consent fields.
func parseConsent(b []byte) (ConsentFields, []byte, error) {
	var c ConsentFields
	var err error
	if c.ID, b, err = parseString(b); err != nil {
		return c, nil, err
	}
	if c.Version, b, err = parseString(b); err != nil {
		return c, nil, err
	}
	if len(b) < 64 {
		return c, nil, fmt.Errorf("%w: truncated consent digest", ErrBadEntry)
	}
	copy(c.Digest[:], b)
	copy(c.Patient[:], b[32:])
	c.Reason, b, err = parseString(b[64:])
	return c, b, err
}

func parseString(b []byte) (string, []byte, error) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return "", nil, fmt.Errorf("%w: truncated string field", ErrBadEntry)
	}
	return string(b[1 : 1+int(b[0])]), b[1+int(b[0]):], nil
}

// MarshalBinary is the stored form and the Merkle leaf data: SignedBytes,
// the batch proof, then the 64-byte signature.
func (e *Entry) MarshalBinary() ([]byte, error) {
	if err := e.Check(); err != nil {
		return nil, err
	}
	if len(e.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d (sign the entry first)", ErrBadEntry, len(e.Signature), ed25519.SignatureSize)
	}
	b := e.SignedBytes()
	b = appendProof(b, e.Batch)
	return append(b, e.Signature...), nil
}

// UnmarshalBinary parses the stored form.
func (e *Entry) UnmarshalBinary(b []byte) error {
	v2 := len(b) >= len(EntryDomainV2) && string(b[:len(EntryDomainV2)]) == EntryDomainV2
	if !v2 && (len(b) < len(EntryDomain) || string(b[:len(EntryDomain)]) != EntryDomain) {
		return fmt.Errorf("%w: missing %q prefix", ErrBadEntry, EntryDomain[:len(EntryDomain)-1])
	}
	b = b[len(EntryDomain):]
	var out Entry
	if len(b) < 1+32 {
		return fmt.Errorf("%w: truncated before digest", ErrBadEntry)
	}
	out.Kind = Kind(b[0])
	copy(out.Digest[:], b[1:33])
	b = b[33:]
	for _, p := range []*string{&out.Sender, &out.Receiver, &out.ContentType, &out.Log} {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return fmt.Errorf("%w: truncated string field", ErrBadEntry)
		}
		*p = string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
	}
	if len(b) < 8+8+SaltSize {
		return fmt.Errorf("%w: truncated before the salt", ErrBadEntry)
	}
	out.Time = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	out.Seq = binary.BigEndian.Uint64(b[8:])
	copy(out.Salt[:], b[16:16+SaltSize])
	b = b[16+SaltSize:]
	if v2 {
		var err error
		if out.Consent, b, err = parseConsent(b); err != nil {
			return err
		}
		if !out.v2() {
			return fmt.Errorf("%w: v2 entry without consent fields (encode it as v1)", ErrBadEntry)
		}
	}
	p, rest, err := parseProof(b)
	if err != nil {
		return err
	}
	if len(rest) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %d bytes of signature, want %d", ErrBadEntry, len(rest), ed25519.SignatureSize)
	}
	out.Batch = p
	out.Signature = append([]byte(nil), rest...)
	if err := out.Check(); err != nil {
		return err
	}
	*e = out
	return nil
}

// LeafHash is the RFC 9162 leaf hash of the entry: SHA-256(0x00 || leaf data).
func (e *Entry) LeafHash() ([32]byte, error) {
	b, err := e.MarshalBinary()
	if err != nil {
		return [32]byte{}, err
	}
	return HashLeaf(b), nil
}

func HashLeaf(data []byte) (h [32]byte) {
	copy(h[:], rfc6962.DefaultHasher.HashLeaf(data))
	return h
}

// VerifySignature checks the entry's signature against the box's record key.
func (e *Entry) VerifySignature(pub ed25519.PublicKey) error {
	return e.VerifySignatureCached(pub, nil)
}

// VerifySignatureCached is VerifySignature with a cache of verified batch
// roots: the entries of one signing batch cost one Ed25519 verification.
func (e *Entry) VerifySignatureCached(pub ed25519.PublicKey, c *SigCache) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: record key is %d bytes, want %d", ErrBadSignature, len(pub), ed25519.PublicKeySize)
	}
	if err := VerifyBatch(pub, entryBatchDomain, e.SignedBytes(), e.Batch, e.Signature, c); err != nil {
		return fmt.Errorf("entry %d of log %q: %w", e.Seq, e.Log, err)
	}
	return nil
}

// SignEntries signs entries (already sequenced and salted) in batches of at
// most MaxBatchSign, one signature per batch, and returns each entry's
// stored form.
func SignEntries(s Signer, es []*Entry) ([][]byte, error) {
	out := make([][]byte, len(es))
	for lo := 0; lo < len(es); lo += MaxBatchSign {
		hi := min(lo+MaxBatchSign, len(es))
		msgs := make([][]byte, hi-lo)
		leaves := make([][32]byte, hi-lo)
		for i := lo; i < hi; i++ {
			e := es[i]
			msgs[i-lo] = e.appendSigned(make([]byte, 0, 300+len(e.Sender)+len(e.Receiver)+len(e.ContentType)+len(e.Log)))
			leaves[i-lo] = BatchLeaf(msgs[i-lo])
		}
		sig, proofs, err := SignBatch(s, entryBatchDomain, leaves)
		if err != nil {
			return nil, fmt.Errorf("proof: signing entries %d..%d: %w", es[lo].Seq, es[hi-1].Seq, err)
		}
		for i := lo; i < hi; i++ {
			e := es[i]
			e.Signature, e.Batch = sig, proofs[i-lo]
			b := appendProof(msgs[i-lo], e.Batch)
			out[i] = append(b, sig...)
		}
	}
	return out, nil
}

// Digest is a convenience for callers: the SHA-256 of record bytes.
func Digest(record []byte) [32]byte { return sha256.Sum256(record) }
