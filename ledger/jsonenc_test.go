package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/wardgate/wardgate/ledger/proof"
)

// wantSameJSON fails unless AppendJSON writes what json.Marshal writes.
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
// for real pending and anchored receipts and for odd values.
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

func FuzzReceiptJSON(f *testing.F) {
	f.Add("st-mary", "pending", []byte{1, 2, 3}, uint64(7), int64(1764577800123456789), 0, uint8(3), true)
	f.Add("<&>\"\\\x00é", "", []byte(nil), uint64(0), int64(-62135596800), -34200, uint8(0), false)
	f.Fuzz(func(t *testing.T, log, status string, entry []byte, size uint64, nanos int64, zone int, nproof uint8, anchored bool) {
		r := &proof.Receipt{Version: int(nproof) - 100, Status: status, Entry: entry, RecordKey: entry, LeafIndex: size / 3,
			Checkpoint: proof.Checkpoint{Log: log, Size: size, Time: time.Unix(0, nanos).In(time.FixedZone("z", zone%86400)), Signature: entry}}
		r.Checkpoint.Root[0] = nproof
		if nproof != 0 {
			r.InclusionProof = make([]proof.Hash, nproof%70)
			for i := range r.InclusionProof {
				r.InclusionProof[i][31] = byte(i)
			}
		}
		if anchored {
			r.Anchor = &proof.Anchor{Size: size, ChainID: size ^ 0xffff, Contract: common.BytesToAddress(entry), Block: size >> 1,
				TxHash: common.BytesToHash([]byte(log)), BlockHash: common.Hash{31: nproof}}
		}
		wantSameJSON(t, "fuzzed receipt", r)
	})
}
