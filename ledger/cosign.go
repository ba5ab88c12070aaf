package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/wardgate/wardgate/ledger/proof"
)

// AddCosignatures journals witness cosignature lines for the checkpoint
// at size (the witness pusher calls it once it has checked them against
// the witness's attested key), so that receipts carry them, across
// restarts too. Lines already held are not added twice. The ledger only
// attaches them: whether they verify is the verifier's business.
func (l *Ledger) AddCosignatures(size uint64, lines []byte) error {
	l.mu.Lock()
	cp, ok := l.checkpointAt(size)
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("ledger: cosignatures for size %d, which is not a checkpoint of this log", size)
	}
	if err := cp.AddCosignatures(lines); err != nil {
		return fmt.Errorf("ledger: cosignatures for size %d: %w", size, err)
	}
	err := l.j.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCosignatures)
		return b.Put(u64key(size), mergeLines(b.Get(u64key(size)), lines))
	})
	if err != nil {
		return fmt.Errorf("ledger: journaling cosignatures for size %d: %w", size, err)
	}
	l.mu.Lock()
	l.latestCosigned = max(l.latestCosigned, size)
	l.mu.Unlock()
	return nil
}

// mergeLines is held with the lines of add by witnesses it has no line
// of yet: one line per witness, so that a witness cosigning the same
// checkpoint again (a new cosignature/v1 timestamp, after the box's
// restart) does not grow it. Lines are "— name signature\n", checked by
// AddCosignatures before.
func mergeLines(held, add []byte) []byte {
	out := bytes.Clone(held)
	for line := range bytes.Lines(add) {
		if !bytes.Contains(out, signerOf(line)) {
			out = append(out, line...)
		}
	}
	return out
}

// firstLines is b's first n lines: a note carries at most
// proof.MaxCosignatures signatures, and a consortium may have more
// witnesses.
func firstLines(b []byte, n int) []byte {
	end := 0
	for line := range bytes.Lines(b) {
		if n == 0 {
			break
		}
		end += len(line)
		n--
	}
	return b[:end]
}

// signerOf is a signature line's "— name " prefix, which names its signer.
func signerOf(line []byte) []byte {
	const dash = "— "
	if i := bytes.IndexByte(line[len(dash):], ' '); i >= 0 {
		return line[:len(dash)+i+1]
	}
	return line
}

// loadCosigned finds the newest cosigned checkpoint in the journal.
func (l *Ledger) loadCosigned(b *bolt.Bucket) {
	if k, _ := b.Cursor().Last(); len(k) == 8 {
		l.latestCosigned = binary.BigEndian.Uint64(k)
	}
}

// cosignedCheckpoint is the newest cosigned checkpoint covering seq, if
// any; l.mu is held.
func (l *Ledger) cosignedCheckpoint(seq uint64) (proof.Checkpoint, bool) {
	if l.latestCosigned <= seq {
		return proof.Checkpoint{}, false
	}
	return l.checkpointAt(l.latestCosigned)
}

// preferCosigned is the checkpoint to anchor: the newest cosigned one if
// it is newer than the last anchor, so that anchored receipts carry the
// witnesses' cosignatures too; otherwise cp, the newest (witnesses that do
// not answer never hold anchoring back). l.mu is held.
func (l *Ledger) preferCosigned(cp proof.Checkpoint, done uint64) proof.Checkpoint {
	if s := l.latestCosigned; s > done && s <= cp.Size {
		if cc, ok := l.checkpointAt(s); ok {
			return cc
		}
	}
	return cp
}

// withCosignatures returns cp with the cosignatures journaled for its size
// appended to its note.
func (l *Ledger) withCosignatures(cp proof.Checkpoint) proof.Checkpoint {
	if cp.Note == "" {
		return cp
	}
	var lines []byte
	err := l.j.db.View(func(tx *bolt.Tx) error {
		lines = bytes.Clone(tx.Bucket(bucketCosignatures).Get(u64key(cp.Size)))
		return nil
	})
	if err != nil || len(lines) == 0 {
		return cp
	}
	lines = firstLines(lines, proof.MaxCosignatures-1) // beside the log's own signature
	out := cp
	if err := out.AddCosignatures(lines); err != nil {
		l.log.Warn("cosignatures not attached to the receipt", "size", cp.Size, "err", err)
		return cp
	}
	return out
}
