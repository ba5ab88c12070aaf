package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
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
	receiptVersion = 1
)

// MaxReceiptSize bounds a receipt file. Real receipts are about 3 KiB; the
// limit keeps a hostile file from costing memory.
const MaxReceiptSize = 64 << 10

// maxProofLen is the longest inclusion proof of a 2^64-entry log.
const maxProofLen = 64

var (
	// ErrMalformedReceipt is returned for a receipt file that does not parse
	// (truncated, not JSON, unknown fields, out-of-range values).
	ErrMalformedReceipt = errors.New("ledger: malformed receipt")
	// ErrReceiptTooLarge is returned for a receipt over MaxReceiptSize.
	ErrReceiptTooLarge = errors.New("ledger: receipt too large")
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
	if r.Version != receiptVersion {
		return nil, fmt.Errorf("%w: version %d, this wardgate reads version %d", ErrMalformedReceipt, r.Version, receiptVersion)
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
		return nil, fmt.Errorf("ledger: reading receipt: %w", err)
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

// Receipt returns the receipt for entry seq: anchored if a checkpoint
// covering it is anchored, otherwise pending against the newest checkpoint
// (signing one now if none covers the entry yet).
func (l *Ledger) Receipt(ctx context.Context, seq uint64) (*Receipt, error) {
	e, err := l.j.entry(seq)
	if err != nil {
		return nil, err
	}
	raw, err := e.MarshalBinary()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	var a *Anchor
	if i := sort.Search(len(l.anchorSizes), func(i int) bool { return l.anchorSizes[i] > seq }); i < len(l.anchorSizes) {
		a = l.anchors[l.anchorSizes[i]]
	}
	var cp Checkpoint
	var ok bool
	if a != nil {
		cp, ok = l.checkpointAt(a.Size)
	} else if n := len(l.checkpoints); n > 0 && l.checkpoints[n-1].Size > seq {
		cp, ok = l.checkpoints[n-1], true
	}
	l.mu.Unlock()
	if !ok {
		if cp, err = l.Checkpoint(ctx); err != nil {
			return nil, err
		}
	}
	p, err := l.tree.inclusion(seq, cp.Size)
	if err != nil {
		return nil, err
	}
	r := &Receipt{Version: receiptVersion, Status: StatusPending, Entry: raw, RecordKey: l.RecordKey(), LeafIndex: seq, Checkpoint: cp}
	for _, h := range p {
		r.InclusionProof = append(r.InclusionProof, Hash(h))
	}
	if a != nil {
		ac := *a
		r.Status, r.Anchor = StatusAnchored, &ac
	}
	return r, nil
}

// ReceiptByDigest returns the receipt of the first entry with this record digest.
func (l *Ledger) ReceiptByDigest(ctx context.Context, digest [32]byte) (*Receipt, error) {
	seqs := l.Lookup(digest)
	if len(seqs) == 0 {
		return nil, fmt.Errorf("%w: no entry with digest %x", ErrNotFound, digest)
	}
	return l.Receipt(ctx, seqs[0])
}

// Upgrade re-issues a pending receipt of this log, anchored if it can be.
func (l *Ledger) Upgrade(ctx context.Context, r *Receipt) (*Receipt, error) {
	if r.Status == StatusAnchored {
		return r, nil
	}
	n, err := l.Receipt(ctx, r.LeafIndex)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(n.Entry, r.Entry) {
		return nil, fmt.Errorf("%w: receipt entry differs from entry %d of log %q", ErrBadProof, r.LeafIndex, l.cfg.Box)
	}
	return n, nil
}

// ConsistencyProof links two checkpoints of one log.
type ConsistencyProof struct {
	Old       Checkpoint `json:"old"`
	New       Checkpoint `json:"new"`
	OldAnchor *Anchor    `json:"old_anchor,omitempty"`
	NewAnchor *Anchor    `json:"new_anchor,omitempty"`
	Proof     []Hash     `json:"proof"`
}

// ConsistencyBetween returns the proof that the log at checkpoint size2 extends
// the log at checkpoint size1. Both must be checkpoints of this log; their
// anchors are attached when they are anchored.
func (l *Ledger) ConsistencyBetween(ctx context.Context, size1, size2 uint64) (*ConsistencyProof, error) {
	l.mu.Lock()
	c1, ok1 := l.checkpointAt(size1)
	c2, ok2 := l.checkpointAt(size2)
	a1, a2 := l.anchors[size1], l.anchors[size2]
	l.mu.Unlock()
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: sizes %d and %d must both be checkpoints of log %q", ErrNotFound, size1, size2, l.cfg.Box)
	}
	p, err := l.tree.consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	out := &ConsistencyProof{Old: c1, New: c2, OldAnchor: a1, NewAnchor: a2}
	for _, h := range p {
		out.Proof = append(out.Proof, Hash(h))
	}
	return out, nil
}

// AnchoredSizes lists the checkpoint sizes of this log that are anchored.
func (l *Ledger) AnchoredSizes() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.anchorSizes...)
}
