package witness_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	tlog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/witness"
)

// c2spCosigVerifier builds box's cosignature verifier the way any C2SP
// tool does, from its vkey, without wardgate's helpers.
func c2spCosigVerifier(t *testing.T, name string, pub ed25519.PublicKey) note.Verifier {
	t.Helper()
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(cv)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func receipt(t *testing.T, l *ledger.Ledger, seq uint64) *proof.Receipt {
	t.Helper()
	r, err := l.Receipt(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := proof.ParseReceipt(b) // what an auditor holds
	if err != nil {
		t.Fatalf("receipt does not parse: %v", err)
	}
	return parsed
}

// TestCosignaturesVerifyWithC2SPVerifier: a peer's cosignature on a box's
// checkpoint, as carried in the receipt, verifies with x/mod's note.Open
// and transparency-dev/formats' cosignature/v1 verifier, and the
// checkpoint itself parses as a C2SP checkpoint signed by the log.
func TestCosignaturesVerifyWithC2SPVerifier(t *testing.T) {
	ctx := context.Background()
	aKey := signer(t, 0)
	b := newBox(t, "city-general", 1, logs{"st-mary": aKey.Public()})
	c := newBox(t, "riverside", 2, logs{"st-mary": aKey.Public()})
	a := openLog(t, "st-mary", aKey, 5)
	p := pusher(t, a, b, c)
	if err := p.Push(ctx); err != nil {
		t.Fatalf("push: %v", err)
	}
	r := receipt(t, a, 3)
	if r.Version != proof.ReceiptVersion || r.Checkpoint.Note == "" {
		t.Fatalf("receipt version %d, note %q: want a version %d receipt with a signed note", r.Version, r.Checkpoint.Note, proof.ReceiptVersion)
	}

	logV, err := proof.LogVerifier("st-mary", aKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	bv := c2spCosigVerifier(t, "wardgate.example/witness/city-general", b.signer.Public())
	cv := c2spCosigVerifier(t, "wardgate.example/witness/riverside", c.signer.Public())
	cp, _, n, err := tlog.ParseCheckpoint([]byte(r.Checkpoint.Note), "wardgate.example/log/st-mary", logV, bv, cv)
	if err != nil {
		t.Fatalf("C2SP checkpoint parse: %v\n%s", err, r.Checkpoint.Note)
	}
	if cp.Size != r.Checkpoint.Size || len(n.Sigs) != 3 {
		t.Fatalf("checkpoint size %d (want %d), %d verified signatures (want log + 2 witnesses):\n%s", cp.Size, r.Checkpoint.Size, len(n.Sigs), r.Checkpoint.Note)
	}
	for _, s := range n.Sigs[1:] {
		if ts, err := fnote.CoSigV1Timestamp(s); err != nil || ts.IsZero() {
			t.Errorf("cosignature by %s: timestamp %v, %v", s.Name, ts, err)
		}
	}

	// wardgate's own verifier counts the same cosigners.
	res, err := proof.Verify(ctx, r, proof.VerifyOptions{RecordKey: aKey.Public(), Witnesses: []note.Verifier{bv, cv}, MinWitnesses: 2})
	if err != nil || len(res.Cosigners) != 2 {
		t.Fatalf("verify with 2 witnesses: %v (cosigners %q)", err, res.Cosigners)
	}
	// A witness that did not cosign does not count.
	d := newBox(t, "lakeside", 3, nil)
	_, err = proof.Verify(ctx, r, proof.VerifyOptions{RecordKey: aKey.Public(), Witnesses: []note.Verifier{bv, d.verifier(t)}, MinWitnesses: 2})
	if !errors.Is(err, proof.ErrTooFewCosignatures) {
		t.Fatalf("verify with an uninvolved witness: %v, want ErrTooFewCosignatures", err)
	}
}

// TestSplitViewRefused: a box shows two peers two different logs of the
// same size. Each cosigns the one it saw; when the box then shows the
// first peer the other log, to collect a quorum, the peer refuses with
// 422, keeps both checkpoints as evidence and journals its digest; and no
// receipt of either log gathers two cosignatures.
func TestSplitViewRefused(t *testing.T) {
	ctx := context.Background()
	aKey := signer(t, 0)
	peers := logs{"st-mary": aKey.Public()}
	b := newBox(t, "city-general", 1, peers)
	c := newBox(t, "riverside", 2, peers)
	x := openLog(t, "st-mary", aKey, 6) // the log shown to b
	y := openLog(t, "st-mary", aKey, 6) // the log shown to c: same size, other entries
	if err := pusher(t, x, b).Push(ctx); err != nil {
		t.Fatalf("b cosigning x: %v", err)
	}
	if err := pusher(t, y, c).Push(ctx); err != nil {
		t.Fatalf("c cosigning y: %v", err)
	}

	for range 3 { // the evidence is kept once, however often the box tries
		p := pusher(t, y, b)
		err := p.Push(ctx)
		if !errors.Is(err, witness.ErrInconsistent) {
			t.Fatalf("b shown the other log: %v, want ErrInconsistent (422)", err)
		}
		if st := p.Stats(); st[witness.ResultContradicted] != 1 || st[witness.ResultFailed] != 0 {
			t.Fatalf("the pushing box counts %v, want the refusal as contradicted", st)
		}
	}
	if size, root := b.w.Latest(proof.Origin("st-mary"), aKey.Public()); size != 6 || root != checkpointRoot(t, x) {
		t.Fatalf("b's state moved to size %d root %s after the refusal", size, root)
	}
	if st := b.w.Stats(); st[witness.OutcomeFork] != 3 || st[witness.OutcomeCosigned] != 1 {
		t.Errorf("b's counts %v, want 1 cosigned and 3 forks", st)
	}
	ev := evidence(t, b)
	if ev.Reason != witness.ReasonFork || ev.Cosigned == ev.Offered || ev.Cosigned == "" || ev.Offered == "" {
		t.Fatalf("evidence: reason %q, cosigned %q, offered %q", ev.Reason, ev.Cosigned, ev.Offered)
	}
	if seqs := b.ledger.Lookup(ev.Digest()); len(seqs) != 1 {
		t.Fatalf("evidence digest %s journaled %d times in b's log, want once", ev.Digest(), len(seqs))
	}

	ws := []note.Verifier{b.verifier(t), c.verifier(t)}
	for name, l := range map[string]*ledger.Ledger{"x": x, "y": y} {
		_, err := proof.Verify(ctx, receipt(t, l, 2), proof.VerifyOptions{RecordKey: aKey.Public(), Witnesses: ws, MinWitnesses: 2})
		if !errors.Is(err, proof.ErrTooFewCosignatures) {
			t.Errorf("receipt of log %s with --witnesses 2: %v, want ErrTooFewCosignatures", name, err)
		}
	}
}

// TestRollbackRefused: after a peer cosigned size 10, the box offers a log
// of size 5 (its state lost, or rolled back). The witness answers 409 with
// the size it knows, refuses an old size above the checkpoint as
// malformed, and still does after a restart from its state file.
func TestRollbackRefused(t *testing.T) {
	ctx := context.Background()
	aKey := signer(t, 0)
	b := newBox(t, "city-general", 1, logs{"st-mary": aKey.Public()})
	full := openLog(t, "st-mary", aKey, 10)
	if err := pusher(t, full, b).Push(ctx); err != nil {
		t.Fatal(err)
	}
	b.start(t) // restart: the state comes from the file
	short := openLog(t, "st-mary", aKey, 5)
	cp, err := short.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := &witness.Client{HTTP: http.DefaultClient, URL: func(string) string { return b.url }}

	_, err = client.AddCheckpoint(ctx, b.name, &witness.Request{OldSize: 0, Checkpoint: []byte(cp.Note)})
	var conflict *witness.ConflictError
	if !errors.As(err, &conflict) || conflict.Size != 10 {
		t.Fatalf("rollback to 5 from old size 0: %v, want 409 naming size 10", err)
	}
	_, err = client.AddCheckpoint(ctx, b.name, &witness.Request{OldSize: 10, Checkpoint: []byte(cp.Note)})
	if !errors.Is(err, witness.ErrMalformed) {
		t.Fatalf("rollback to 5 from old size 10: %v, want 400", err)
	}
	if err := pusher(t, short, b).Push(ctx); err == nil {
		t.Fatal("the pusher had the rolled-back log cosigned")
	}
	if size, _ := b.w.Latest(proof.Origin("st-mary"), aKey.Public()); size != 10 {
		t.Fatalf("witness state is size %d, want 10", size)
	}
}

// TestUnknownAndForgedRefused: a checkpoint of a log the witness does not
// witness is 404, one not signed by the log's record key 403.
func TestUnknownAndForgedRefused(t *testing.T) {
	ctx := context.Background()
	aKey, other := signer(t, 0), signer(t, 5)
	b := newBox(t, "city-general", 1, logs{"st-mary": aKey.Public()})
	client := &witness.Client{HTTP: http.DefaultClient, URL: func(string) string { return b.url }}
	forged, err := openLog(t, "st-mary", other, 3).Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.AddCheckpoint(ctx, b.name, &witness.Request{Checkpoint: []byte(forged.Note)}); !errors.Is(err, witness.ErrBadSignature) {
		t.Fatalf("checkpoint signed by another key: %v, want 403", err)
	}
	unknown, err := openLog(t, "lakeside", other, 3).Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.AddCheckpoint(ctx, b.name, &witness.Request{Checkpoint: []byte(unknown.Note)}); !errors.Is(err, witness.ErrUnknownLog) {
		t.Fatalf("checkpoint of an unknown log: %v, want 404", err)
	}
}

func checkpointRoot(t *testing.T, l *ledger.Ledger) proof.Hash {
	t.Helper()
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp.Root
}

// evidence reads the one evidence file b wrote.
func evidence(t *testing.T, b *box) *witness.Evidence {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(b.evDir, "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("evidence files %q (%v), want one", files, err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var ev witness.Evidence
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if d := ev.Digest(); filepath.Base(files[0]) != d.String()+".json" {
		t.Fatalf("evidence file %s does not carry its digest %s", files[0], d)
	}
	return &ev
}
