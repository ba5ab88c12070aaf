package ledger

import "github.com/wardgate/wardgate/ledger/proof"

// Cosignatures is where receipts find witness cosignatures of this log's
// checkpoints (the gateway's witness.Pusher). The ledger only attaches
// them: whether they verify is the verifier's business.
type Cosignatures interface {
	Cosignatures(size uint64) []byte // signature lines, or nil
	LatestCosigned() uint64          // largest cosigned size, 0 if none
}

// SetCosignatures makes receipts carry the cosignatures c holds.
func (l *Ledger) SetCosignatures(c Cosignatures) { l.cosigs.Store(&c) }

// cosignedCheckpoint is the newest cosigned checkpoint covering seq, if
// any; l.mu is held.
func (l *Ledger) cosignedCheckpoint(seq uint64) (proof.Checkpoint, bool) {
	c := l.cosigs.Load()
	if c == nil {
		return proof.Checkpoint{}, false
	}
	size := (*c).LatestCosigned()
	if size <= seq {
		return proof.Checkpoint{}, false
	}
	return l.checkpointAt(size)
}

// preferCosigned is the checkpoint to anchor: the newest cosigned one if
// it is newer than the last anchor, so that anchored receipts carry the
// witnesses' cosignatures too; otherwise cp, the newest (witnesses that do
// not answer never hold anchoring back). l.mu is held.
func (l *Ledger) preferCosigned(cp proof.Checkpoint, done uint64) proof.Checkpoint {
	c := l.cosigs.Load()
	if c == nil {
		return cp
	}
	if s := (*c).LatestCosigned(); s > done && s <= cp.Size {
		if cc, ok := l.checkpointAt(s); ok {
			return cc
		}
	}
	return cp
}

// withCosignatures returns cp with the cosignatures held for its size
// appended to its note.
func (l *Ledger) withCosignatures(cp proof.Checkpoint) proof.Checkpoint {
	c := l.cosigs.Load()
	if c == nil || cp.Note == "" {
		return cp
	}
	lines := (*c).Cosignatures(cp.Size)
	if len(lines) == 0 {
		return cp
	}
	out := cp
	if err := out.AddCosignatures(lines); err != nil {
		l.log.Warn("cosignatures not attached to the receipt", "size", cp.Size, "err", err)
		return cp
	}
	return out
}
