package ledger

import (
	"bytes"
	"context"
	"fmt"
	"github.com/wardgate/wardgate/ledger/proof"
	"sort"
)

// Receipt returns the receipt for entry seq: anchored if a checkpoint
// covering it is anchored, otherwise pending against the newest checkpoint
// (signing one now if none covers the entry yet).
func (l *Ledger) Receipt(ctx context.Context, seq uint64) (*proof.Receipt, error) {
	e, err := l.j.entry(seq)
	if err != nil {
		return nil, err
	}
	raw, err := e.MarshalBinary()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	var a *proof.Anchor
	if i := sort.Search(len(l.anchorSizes), func(i int) bool { return l.anchorSizes[i] > seq }); i < len(l.anchorSizes) {
		a = l.anchors[l.anchorSizes[i]]
	}
	var cp proof.Checkpoint
	var ok bool
	if a != nil {
		cp, ok = l.checkpointAt(a.Size)
	} else if cp, ok = l.cosignedCheckpoint(seq); ok {
		// a witnessed checkpoint proves more than a newer unwitnessed one
	} else if n := len(l.checkpoints); n > 0 && l.checkpoints[n-1].Size > seq {
		cp, ok = l.checkpoints[n-1], true
	}
	l.mu.Unlock()
	cp = l.withCosignatures(cp)
	if !ok {
		if cp, err = l.Checkpoint(ctx); err != nil {
			return nil, err
		}
	}
	p, err := l.tree.inclusion(seq, cp.Size)
	if err != nil {
		return nil, err
	}
	r := &proof.Receipt{Version: proof.ReceiptVersionOf(&cp), Status: proof.StatusPending, Entry: raw, RecordKey: l.RecordKey(), LeafIndex: seq, Checkpoint: cp}
	for _, h := range p {
		r.InclusionProof = append(r.InclusionProof, proof.Hash(h))
	}
	if a != nil {
		ac := *a
		r.Status, r.Anchor = proof.StatusAnchored, &ac
	}
	return r, nil
}

// ReceiptByDigest returns the receipt of the first entry with this record digest.
func (l *Ledger) ReceiptByDigest(ctx context.Context, digest [32]byte) (*proof.Receipt, error) {
	seqs := l.Lookup(digest)
	if len(seqs) == 0 {
		return nil, fmt.Errorf("%w: no entry with digest %x", ErrNotFound, digest)
	}
	return l.Receipt(ctx, seqs[0])
}

// Upgrade re-issues a pending receipt of this log, anchored if it can be.
func (l *Ledger) Upgrade(ctx context.Context, r *proof.Receipt) (*proof.Receipt, error) {
	if r.Status == proof.StatusAnchored {
		return r, nil
	}
	n, err := l.Receipt(ctx, r.LeafIndex)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(n.Entry, r.Entry) {
		return nil, fmt.Errorf("%w: receipt entry differs from entry %d of log %q", proof.ErrBadProof, r.LeafIndex, l.cfg.Box)
	}
	return n, nil
}

// ConsistencyBetween returns the proof that the log at checkpoint size2 extends
// the log at checkpoint size1. Both must be checkpoints of this log; their
// anchors are attached when they are anchored.
func (l *Ledger) ConsistencyBetween(ctx context.Context, size1, size2 uint64) (*proof.ConsistencyProof, error) {
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
	out := &proof.ConsistencyProof{Old: c1, New: c2, OldAnchor: a1, NewAnchor: a2}
	for _, h := range p {
		out.Proof = append(out.Proof, proof.Hash(h))
	}
	return out, nil
}

// AnchoredSizes lists the checkpoint sizes of this log that are anchored.
func (l *Ledger) AnchoredSizes() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.anchorSizes...)
}
