package proof

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Receipt proves that an entry is in a box's log, and (once anchored) that
// the log's checkpoint is on chain. A pending receipt has a signed
// checkpoint and proof but no anchor yet; Upgrade turns it into an anchored
// one later, as OpenTimestamps does.
type Receipt struct {
	Version        int        `json:"version"`
	Status         string     `json:"status"` // StatusPending or StatusAnchored
	Entry          []byte     `json:"entry"`  // Entry.MarshalBinary, base64 in JSON
	RecordKey      []byte     `json:"record_key"`
	LeafIndex      uint64     `json:"leaf_index"`
	Checkpoint     Checkpoint `json:"checkpoint"`
	InclusionProof []Hash     `json:"inclusion_proof"`
	Anchor         *Anchor    `json:"anchor,omitempty"`
}

const (
	StatusPending  = "pending"
	StatusAnchored = "anchored"
	// ReceiptVersion is what this wardgate writes: its checkpoint is a C2SP
	// signed note (Checkpoint.Note), with any witness cosignatures.
	ReceiptVersion = 2
	// ReceiptVersionV1 receipts carry a version 1 checkpoint (the box's own
	// signed text); they stay verifiable.
	ReceiptVersionV1 = 1
)

// ReceiptVersionOf is the receipt version that carries cp: a log opened
// from a journal of version 1 checkpoints hands out version 1 receipts
// for them.
func ReceiptVersionOf(cp *Checkpoint) int {
	if cp.Note == "" {
		return ReceiptVersionV1
	}
	return ReceiptVersion
}

// MaxReceiptSize bounds a receipt file. Real receipts are about 3 KiB; the
// limit keeps a hostile file from costing memory.
const MaxReceiptSize = 64 << 10

// maxProofLen is the longest inclusion proof of a 2^64-entry log.
const maxProofLen = 64

var (
	// ErrMalformedReceipt is returned for a receipt file that does not parse
	// (truncated, not JSON, unknown fields, out-of-range values).
	ErrMalformedReceipt = errors.New("proof: malformed receipt")
	// ErrReceiptTooLarge is returned for a receipt over MaxReceiptSize.
	ErrReceiptTooLarge = errors.New("proof: receipt too large")
)

// ParseReceipt decodes and sanity-checks a receipt file. It checks shape,
// not truth: call Verify for that.
func ParseReceipt(b []byte) (*Receipt, error) {
	if len(b) > MaxReceiptSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrReceiptTooLarge, len(b), MaxReceiptSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Receipt
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedReceipt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the receipt object", ErrMalformedReceipt)
	}
	if r.Version != ReceiptVersion && r.Version != ReceiptVersionV1 {
		return nil, fmt.Errorf("%w: version %d, this wardgate reads versions %d and %d", ErrMalformedReceipt, r.Version, ReceiptVersionV1, ReceiptVersion)
	}
	if want := ReceiptVersionOf(&r.Checkpoint); r.Version != want {
		return nil, fmt.Errorf("%w: a version %d receipt must carry a version %d checkpoint (field \"checkpoint.note\" is set only from version 2)", ErrMalformedReceipt, r.Version, want)
	}
	if len(r.Checkpoint.Note) > MaxNoteSize {
		return nil, fmt.Errorf("%w: checkpoint.note is %d bytes, limit %d", ErrMalformedReceipt, len(r.Checkpoint.Note), MaxNoteSize)
	}
	switch r.Status {
	case StatusPending:
		if r.Anchor != nil {
			return nil, fmt.Errorf("%w: pending receipt carries an anchor", ErrMalformedReceipt)
		}
	case StatusAnchored:
		if r.Anchor == nil {
			return nil, fmt.Errorf("%w: anchored receipt has no anchor", ErrMalformedReceipt)
		}
	default:
		return nil, fmt.Errorf("%w: status %q is neither %q nor %q", ErrMalformedReceipt, r.Status, StatusPending, StatusAnchored)
	}
	if len(r.RecordKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: record_key is %d bytes, want %d", ErrMalformedReceipt, len(r.RecordKey), ed25519.PublicKeySize)
	}
	if len(r.InclusionProof) > maxProofLen {
		return nil, fmt.Errorf("%w: inclusion proof has %d hashes, limit %d", ErrMalformedReceipt, len(r.InclusionProof), maxProofLen)
	}
	if r.LeafIndex >= r.Checkpoint.Size {
		return nil, fmt.Errorf("%w: leaf_index %d is not below checkpoint size %d", ErrMalformedReceipt, r.LeafIndex, r.Checkpoint.Size)
	}
	var e Entry
	if err := e.UnmarshalBinary(r.Entry); err != nil {
		return nil, fmt.Errorf("%w: entry: %w", ErrMalformedReceipt, err)
	}
	return &r, nil
}

// ReadReceipt reads a receipt file of at most MaxReceiptSize bytes.
func ReadReceipt(rd io.Reader) (*Receipt, error) {
	b, err := io.ReadAll(io.LimitReader(rd, MaxReceiptSize+1))
	if err != nil {
		return nil, fmt.Errorf("proof: reading receipt: %w", err)
	}
	return ParseReceipt(b)
}

// Marshal encodes the receipt as indented JSON.
func (r *Receipt) Marshal() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// ParsedEntry decodes the receipt's entry.
func (r *Receipt) ParsedEntry() (*Entry, error) {
	var e Entry
	if err := e.UnmarshalBinary(r.Entry); err != nil {
		return nil, fmt.Errorf("%w: entry: %w", ErrMalformedReceipt, err)
	}
	return &e, nil
}

// ConsistencyProof links two checkpoints of one log.
type ConsistencyProof struct {
	Old       Checkpoint `json:"old"`
	New       Checkpoint `json:"new"`
	OldAnchor *Anchor    `json:"old_anchor,omitempty"`
	NewAnchor *Anchor    `json:"new_anchor,omitempty"`
	Proof     []Hash     `json:"proof"`
}
