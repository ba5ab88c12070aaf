package ledger

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wardgate/wardgate/ledger/proof"
)

// TestCosignedCheckpointPreferred: with a witnessed checkpoint older than
// the newest, the anchorer anchors the witnessed one (so anchored receipts
// carry the cosignatures) and a pending receipt is issued against it,
// with the cosignature lines on its note; a size that is not a checkpoint
// cannot be cosigned.
func TestCosignedCheckpointPreferred(t *testing.T) {
	ctx := context.Background()
	l := openTest(t, t.TempDir(), nil, nil)
	appendN(t, l, 0, 5)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 5, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if cp, _ := l.anchorTarget(); cp.Size != 8 {
		t.Fatalf("anchor target at size %d before any cosignature, want the newest 8", cp.Size)
	}
	if err := l.AddCosignatures(6, []byte(witnessLine)); err == nil {
		t.Fatal("cosignatures for size 6, not a checkpoint, were taken")
	}
	if err := l.AddCosignatures(5, []byte(witnessLine)); err != nil {
		t.Fatal(err)
	}
	if cp, _ := l.anchorTarget(); cp.Size != 5 {
		t.Fatalf("anchor target at size %d, want the cosigned 5", cp.Size)
	}
	checkCosignedReceipt(t, l, witnessLine)
}

// witnessLine is a cosignature line as a peer's witness returns it.
const witnessLine = "— wardgate.example/witness/city-general AAAAAAAAAAAA\n"

// checkCosignedReceipt fails unless entry 2's receipt is issued against
// the cosigned checkpoint 5 with exactly lines appended to its note, and
// still verifies as the log's.
func checkCosignedReceipt(t *testing.T, l *Ledger, lines string) {
	t.Helper()
	r, err := l.Receipt(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Checkpoint.Size != 5 || !strings.HasSuffix(r.Checkpoint.Note, "\n"+lines) || strings.Count(r.Checkpoint.Note, "— ") != 1+strings.Count(lines, "— ") {
		t.Fatalf("receipt of entry 2 at size %d with note %q, want the cosigned checkpoint 5 carrying %q", r.Checkpoint.Size, r.Checkpoint.Note, lines)
	}
	if err := r.Checkpoint.VerifySignature(l.RecordKey()); err != nil {
		t.Fatalf("the cosigned note no longer verifies as the log's: %v", err)
	}
}

// TestCosignaturesSurviveRestart: cosignatures are journaled, so receipts
// issued after a restart still carry them; a second witness's line is
// added beside the first, and a line sent twice is kept once.
func TestCosignaturesSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir, nil, nil)
	appendN(t, l, 0, 5)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.AddCosignatures(5, []byte(witnessLine)); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l = openTest(t, dir, nil, nil)
	appendN(t, l, 5, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	checkCosignedReceipt(t, l, witnessLine)
	second := "— wardgate.example/witness/st-mary BBBBBBBBBBBB\n"
	again := "— wardgate.example/witness/city-general CCCCCCCCCCCC\n" // re-cosigned later
	for range 2 {
		if err := l.AddCosignatures(5, []byte(witnessLine+second+again)); err != nil {
			t.Fatal(err)
		}
	}
	checkCosignedReceipt(t, l, witnessLine+second)
	var held []byte
	if err := l.j.db.View(func(tx *bolt.Tx) error {
		held = bytes.Clone(tx.Bucket(bucketCosignatures).Get(u64key(5)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(held) != witnessLine+second {
		t.Fatalf("journaled cosignatures %q, want one line per witness", held)
	}
}

// TestManyWitnessesCapped: a consortium with more witnesses than a note
// may carry signatures still gets receipts with cosignatures: the first
// proof.MaxCosignatures-1 of them, beside the log's own signature.
func TestManyWitnessesCapped(t *testing.T) {
	ctx := context.Background()
	l := openTest(t, t.TempDir(), nil, nil)
	appendN(t, l, 0, 5)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range proof.MaxCosignatures + 10 {
		line := fmt.Sprintf("— wardgate.example/witness/h%03d AAAAAAAAAAAA\n", i)
		if err := l.AddCosignatures(5, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := l.Receipt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(r.Checkpoint.Note, "\n— "); n != proof.MaxCosignatures {
		t.Fatalf("receipt's note carries %d signatures, want the log's and %d cosignatures", n, proof.MaxCosignatures-1)
	}
	if err := r.Checkpoint.VerifySignature(l.RecordKey()); err != nil {
		t.Fatal(err)
	}
}
