package witness_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	tlog "github.com/transparency-dev/formats/log"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/witness"
)

// FuzzParseRequest: an add-checkpoint body from a peer never panics the
// parser or the witness; what parses re-encodes to the same bytes (one
// spelling per request); and nothing but a checkpoint signed by the log is
// cosigned.
func FuzzParseRequest(f *testing.F) {
	ctx := context.Background()
	aKey := signer(f, 0)
	l := openLog(f, "st-mary", aKey, 4)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		f.Fatal(err)
	}
	hs, err := l.Consistency(ctx, 2, 4)
	if err != nil {
		f.Fatal(err)
	}
	r := witness.Request{OldSize: 0, Checkpoint: []byte(cp.Note)}
	f.Add(r.Marshal())
	r.OldSize = 2
	for _, h := range hs {
		r.Proof = append(r.Proof, [32]byte(h))
	}
	f.Add(r.Marshal())
	f.Add([]byte("old 01\n\nx"))
	f.Add([]byte("old 1\nAAAA\n\n"))
	logV, err := proof.LogVerifier("st-mary", aKey.Public())
	if err != nil {
		f.Fatal(err)
	}
	w, err := witness.New(witness.Config{Box: "city-general", Signer: signer(f, 1), Logs: logs{"st-mary": aKey.Public()},
		StatePath: filepath.Join(f.TempDir(), "w.json"), Logger: testutil.QuietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := witness.ParseRequest(body)
		if err != nil {
			return
		}
		if got := r.Marshal(); !bytes.Equal(got, body) {
			t.Fatalf("request re-encodes differently:\n got %q\nwant %q", got, body)
		}
		if _, err := w.AddCheckpoint(ctx, r); err == nil {
			if _, _, _, err := tlog.ParseCheckpoint(r.Checkpoint, proof.Origin("st-mary"), logV); err != nil {
				t.Fatalf("cosigned a checkpoint the log did not sign (%v): %q", err, r.Checkpoint)
			}
		}
	})
}
