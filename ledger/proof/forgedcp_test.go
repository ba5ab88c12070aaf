package proof_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
)

// A receipt whose entry is real (signed by the box's record key) but whose
// checkpoint the box never signed: a forger builds a log of its own
// around the entry and signs that checkpoint with its key. Verification
// pinned to the box's key refuses it; the same receipt with the box's own
// checkpoint verifies.
func TestReceiptOnForgedCheckpointRefused(t *testing.T) {
	box, forger := testSigner(t, 7), testSigner(t, 9)
	e := testEntry(1)
	e.Log, e.Seq, e.Time = "st-mary", 0, time.Unix(1_790_000_000, 0).UTC()
	raws, err := proof.SignEntries(box, []*proof.Entry{&e})
	if err != nil {
		t.Fatal(err)
	}
	receiptSignedBy := func(s proof.Signer) *proof.Receipt {
		cp := proof.Checkpoint{Log: "st-mary", Size: 1, Root: proof.HashLeaf(raws[0]), Time: e.Time}
		if err := cp.Sign(s); err != nil {
			t.Fatal(err)
		}
		return &proof.Receipt{Version: proof.ReceiptVersion, Status: proof.StatusPending, Entry: raws[0],
			RecordKey: box.Public(), LeafIndex: 0, Checkpoint: cp}
	}
	ctx := context.Background()
	o := proof.VerifyOptions{RecordKey: box.Public()}
	if _, err := proof.Verify(ctx, receiptSignedBy(box), o); err != nil {
		t.Fatalf("the box's own receipt: %v", err)
	}
	_, err = proof.Verify(ctx, receiptSignedBy(forger), o)
	if err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Fatalf("receipt on a checkpoint the box never signed: %v, want a refusal naming the checkpoint", err)
	}
	if errors.Is(err, proof.ErrWrongKey) {
		t.Fatalf("refused for the key named in the receipt, not for the checkpoint: %v", err)
	}
}
