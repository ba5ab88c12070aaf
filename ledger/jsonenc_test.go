package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
)

// wantSameJSON fails unless AppendJSON writes what json.Marshal writes
// (ledger/proof's tests have the same check for fuzzed receipts).
func wantSameJSON(t *testing.T, what string, r *proof.Receipt) {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		return // encoding/json refuses it (a year past 9999): nothing to match
	}
	if got := r.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("%s: AppendJSON differs from json.Marshal\n got %s\nwant %s", what, got, want)
	}
}

// The hand-written receipt encoder writes exactly what encoding/json does,
// for real pending and anchored receipts and for odd values (FuzzReceiptJSON
// in ledger/proof covers the rest).
func TestReceiptJSONMatches(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	l := openTest(t, t.TempDir(), chain, func(c *Config) { c.CheckpointEntries = 10 })
	appendN(t, l, 0, 10)
	waitAnchored(t, l, 10)
	appendN(t, l, 10, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{0, 3, 9, 11, 12} {
		r, err := l.Receipt(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		wantSameJSON(t, "receipt "+r.Status, r)
	}
	r, err := l.Receipt(ctx, 3)
	if err != nil || r.Anchor == nil {
		t.Fatalf("receipt 3: %v, anchor %v", err, r.Anchor)
	}
	odd := *r
	odd.Checkpoint.Log = "St. Mary's <east> & \"west\" \\ \t\u2028 é \xff"
	odd.Status = ""
	odd.Entry, odd.RecordKey, odd.Checkpoint.Signature = nil, []byte{}, nil
	odd.InclusionProof = []proof.Hash{}
	odd.Checkpoint.Time = time.Date(2026, 12, 1, 8, 30, 0, 123456789, time.FixedZone("x", -(3*3600+1800)))
	wantSameJSON(t, "odd values", &odd)
	odd.InclusionProof, odd.Anchor = nil, nil
	odd.Checkpoint.Time = time.Time{}
	wantSameJSON(t, "nil proof, no anchor, zero time", &odd)
}
