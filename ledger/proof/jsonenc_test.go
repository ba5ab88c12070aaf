package proof_test

import (
	"bytes"
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
