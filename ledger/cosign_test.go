package ledger

import (
	"context"
	"strings"
	"testing"
)

// cosigs is a witness pusher's answer: one cosigned size and its lines.
type cosigs struct {
	size  uint64
	lines string
}

func (c *cosigs) Cosignatures(size uint64) []byte {
	if size != c.size {
		return nil
	}
	return []byte(c.lines)
}

func (c *cosigs) LatestCosigned() uint64 { return c.size }

// TestCosignedCheckpointPreferred: with a witnessed checkpoint older than
// the newest, the anchorer anchors the witnessed one (so anchored receipts
// carry the cosignatures) and a pending receipt is issued against it,
// with the cosignature lines on its note; a cosigned size that is not a
// checkpoint, or not beyond the last anchor, changes nothing.
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
	line := "— wardgate.example/witness/city-general AAAAAAAAAAAA\n"
	c := &cosigs{size: 5, lines: line}
	l.SetCosignatures(c)
	if cp, _ := l.anchorTarget(); cp.Size != 5 {
		t.Fatalf("anchor target at size %d, want the cosigned 5", cp.Size)
	}
	r, err := l.Receipt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Checkpoint.Size != 5 || !strings.HasSuffix(r.Checkpoint.Note, "\n"+line) {
		t.Fatalf("receipt of entry 2 at size %d with note %q, want the cosigned checkpoint 5 carrying the cosignature", r.Checkpoint.Size, r.Checkpoint.Note)
	}
	if err := r.Checkpoint.VerifySignature(l.RecordKey()); err != nil {
		t.Fatalf("the cosigned note no longer verifies as the log's: %v", err)
	}
	c.size = 6 // not a checkpoint
	if cp, _ := l.anchorTarget(); cp.Size != 8 {
		t.Fatalf("anchor target at size %d, want the newest 8", cp.Size)
	}
}
