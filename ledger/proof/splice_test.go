package proof_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
)

// node is the RFC 9162 interior hash.
func node(l, r [32]byte) (h proof.Hash) {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// signedLeaves signs es as a box does (the caller sets Log and Seq) and
// returns each entry's stored bytes and leaf hash.
func signedLeaves(t *testing.T, s proof.Signer, es []*proof.Entry) ([][]byte, [][32]byte) {
	t.Helper()
	raw, err := proof.SignEntries(s, es)
	if err != nil {
		t.Fatal(err)
	}
	hs := make([][32]byte, len(raw))
	for i, b := range raw {
		hs[i] = proof.HashLeaf(b)
	}
	return raw, hs
}

func entriesOf(log string, seqs ...uint64) []*proof.Entry {
	var es []*proof.Entry
	for _, s := range seqs {
		e := testEntry(int(s))
		e.Log, e.Seq, e.Time = log, s, time.Unix(1700000000, 0).UTC()
		es = append(es, &e)
	}
	return es
}

func checkpointOf(t *testing.T, s proof.Signer, log string, size uint64, root proof.Hash) proof.Checkpoint {
	t.Helper()
	c := proof.Checkpoint{Log: log, Size: size, Root: root, Time: time.Unix(1700000000, 0).UTC()}
	if err := c.Sign(s); err != nil {
		t.Fatal(err)
	}
	return c
}

// receiptAtLeaf3 is a receipt for leaf 3 of a 4-leaf log of "a" whose
// leaves are raw, signed by s.
func receiptAtLeaf3(t *testing.T, s *proof.KeySigner, raw [][]byte, hs [][32]byte) *proof.Receipt {
	t.Helper()
	root := node(node(hs[0], hs[1]), node(hs[2], hs[3]))
	return &proof.Receipt{Version: proof.ReceiptVersion, Status: proof.StatusPending, Entry: raw[3], RecordKey: s.Public(), LeafIndex: 3,
		Checkpoint: checkpointOf(t, s, "a", 4, root), InclusionProof: []proof.Hash{hs[2], node(hs[0], hs[1])}}
}

// TestEntryAtAnotherLeafRefused: a box's log holds, at leaf 3, an entry
// whose signed sequence number is 2 (replayed) or that belongs to its
// other log "b". The inclusion proof is sound, but the receipt's entry
// and its position disagree: verify must refuse it (bad_proof), or the
// same signed entry could be shown at two places in one log.
func TestEntryAtAnotherLeafRefused(t *testing.T) {
	s := testSigner(t, 7)
	ctx := context.Background()
	good := entriesOf("a", 0, 1, 2, 3)
	raw, hs := signedLeaves(t, s, good)
	if _, err := proof.Verify(ctx, receiptAtLeaf3(t, s, raw, hs), proof.VerifyOptions{RecordKey: s.Public()}); err != nil {
		t.Fatalf("the honest receipt for leaf 3: %v", err)
	}
	for name, last := range map[string]*proof.Entry{
		"entry 2 replayed at leaf 3": entriesOf("a", 2)[0],
		"entry of log b at leaf 3":   entriesOf("b", 3)[0],
	} {
		t.Run(name, func(t *testing.T) {
			es := append(entriesOf("a", 0, 1, 2), last)
			raw, hs := signedLeaves(t, s, es)
			_, err := proof.Verify(ctx, receiptAtLeaf3(t, s, raw, hs), proof.VerifyOptions{RecordKey: s.Public()})
			if !errors.Is(err, proof.ErrBadProof) {
				t.Fatalf("got %v, want ErrBadProof (entry and leaf disagree)", err)
			}
		})
	}
}

// TestConsistencyAcrossLogsRefused: one record key signs checkpoints of
// two logs, "a" at size 2 and "b" at size 4, over leaves that make b's
// tree extend a's. A consistency proof between them is sound Merkle-wise,
// but it joins two logs: verify must refuse it (bad_proof), or a box
// could pass one log off as the continuation of another.
func TestConsistencyAcrossLogsRefused(t *testing.T) {
	s := testSigner(t, 7)
	ctx := context.Background()
	_, hs := signedLeaves(t, s, entriesOf("a", 0, 1, 2, 3))
	oldRoot, newRoot := node(hs[0], hs[1]), node(node(hs[0], hs[1]), node(hs[2], hs[3]))
	p := &proof.ConsistencyProof{Old: checkpointOf(t, s, "a", 2, oldRoot), New: checkpointOf(t, s, "a", 4, newRoot),
		Proof: []proof.Hash{node(hs[2], hs[3])}}
	if err := proof.VerifyConsistency(ctx, p, proof.VerifyOptions{RecordKey: s.Public()}); err != nil {
		t.Fatalf("the honest proof 2 -> 4 of log a: %v", err)
	}
	p.New = checkpointOf(t, s, "b", 4, newRoot)
	if err := proof.VerifyConsistency(ctx, p, proof.VerifyOptions{RecordKey: s.Public()}); !errors.Is(err, proof.ErrBadProof) {
		t.Fatalf("proof from log a's checkpoint to log b's: got %v, want ErrBadProof", err)
	}
}
