package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tlog "github.com/transparency-dev/formats/log"
	fproof "github.com/transparency-dev/formats/proof"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/witness"
)

// peerWitness is a peer box's witness served over HTTP, witnessing
// hospital-a's log under pub.
type peerWitness struct {
	name string
	key  ed25519.PublicKey
	url  string
}

func startWitness(t *testing.T, name string, logPub ed25519.PublicKey) *peerWitness {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	s, err := proof.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{Box: name, Signer: s, Logs: oneLog{logPub}, StatePath: filepath.Join(t.TempDir(), "w.json"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return &peerWitness{name: name, key: pub, url: srv.URL}
}

type oneLog struct{ pub ed25519.PublicKey }

func (o oneLog) LogKey(origin string) (string, ed25519.PublicKey, bool) {
	return "hospital-a", o.pub, origin == proof.Origin("hospital-a")
}

// witnessBy has l's newest checkpoint cosigned by ws.
func witnessBy(t *testing.T, l *ledger.Ledger, ws ...*peerWitness) {
	t.Helper()
	byName := map[string]*peerWitness{}
	var names []string
	for _, w := range ws {
		byName[w.name], names = w, append(names, w.name)
	}
	p := witness.NewPusher(witness.PusherConfig{
		Log: l, Client: &witness.Client{HTTP: http.DefaultClient, URL: func(p string) string { return byName[p].url }},
		Peers: func() []string { return names },
		Verifier: func(p string) (note.Verifier, bool) {
			v, err := proof.CosignatureVerifier(p, byName[p].key)
			return v, err == nil
		},
	})
	if err := p.Push(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func witnessKeyArgs(ws ...*peerWitness) []string {
	var out []string
	for _, w := range ws {
		out = append(out, "--witness-key", w.name+"="+hex.EncodeToString(w.key))
	}
	return out
}

func receiptFile(t *testing.T, l *ledger.Ledger, seq uint64, dir, name string) string {
	t.Helper()
	rc, err := l.Receipt(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, raw)
}

// TestVerifyWitnesses: `verify --witnesses N` passes only with N
// cosignatures by the named witnesses, and names a forged one.
func TestVerifyWitnesses(t *testing.T) {
	dir := t.TempDir()
	l, pub := openLedger(t, nil, filepath.Join(dir, "state"))
	appendRecords(t, l, [][]byte{[]byte("r1"), []byte("r2"), []byte("r3")})
	b, c := startWitness(t, "hospital-b", pub), startWitness(t, "hospital-c", pub)
	noDaemon := filepath.Join(dir, "no.sock")
	base := []string{"verify", "--record-key", hex.EncodeToString(pub), "--json"}
	keys := witnessKeyArgs(b, c)

	witnessBy(t, l, b)
	one := receiptFile(t, l, 1, dir, "one.json")
	r := wardgate(t, noDaemon, append(append(base, "--receipt", one, "--witnesses", "1"), keys...)...)
	var vo verifyOutput
	if err := json.Unmarshal([]byte(r.stdout), &vo); err != nil || r.code != 0 || len(vo.Cosigners) != 1 {
		t.Fatalf("--witnesses 1 with b's cosignature: %+v %v", r, err)
	}
	r = wardgate(t, noDaemon, append(append(base, "--receipt", one, "--witnesses", "2"), keys...)...)
	if r.code == 0 || !strings.Contains(r.stdout, `"reason": "too_few_cosignatures"`) {
		t.Fatalf("--witnesses 2 with one cosignature: %+v", r)
	}

	appendRecords(t, l, [][]byte{[]byte("r4")})
	witnessBy(t, l, b, c)
	two := receiptFile(t, l, 1, dir, "two.json")
	r = wardgate(t, noDaemon, append(append(base[:3], "--receipt", two, "--witnesses", "2"), keys...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "witnessed by:") {
		t.Fatalf("--witnesses 2 with both cosignatures: %+v", r)
	}

	// A cosignature line edited in the file is a bad signature, by name.
	raw, err := os.ReadFile(two)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(raw), "hospital-c ") + len("hospital-c ") + 30 // inside the signature, past the key hash
	forged := string(raw[:i]) + flipB64(raw[i]) + string(raw[i+1:])
	r = wardgate(t, noDaemon, append(append(base, "--receipt", writeFile(t, dir, "forged.json", []byte(forged)), "--witnesses", "2"), keys...)...)
	if r.code == 0 || !strings.Contains(r.stdout, `"reason": "bad_signature"`) {
		t.Fatalf("edited cosignature: %+v", r)
	}
	r = wardgate(t, noDaemon, "verify", "--receipt", two, "--witnesses", "2", keys[0], keys[1])
	if r.code != 2 || !strings.Contains(r.stderr, "--witness-key") {
		t.Fatalf("--witnesses 2 with one key: %+v, want a usage error", r)
	}
}

// proofBackend serves one tlog-proof.
type proofBackend struct {
	*testBackend
	digest [32]byte
	proof  []byte
}

func (b *proofBackend) LedgerProof(_ context.Context, d [32]byte) ([]byte, error) {
	if d != b.digest {
		return nil, fmt.Errorf("%w: no entry", control.ErrNotFound)
	}
	return b.proof, nil
}

// TestLedgerProofExport: `wardgate ledger proof DIGEST` writes a C2SP
// tlog-proof that formats/proof parses, whose checkpoint is signed by the
// log and cosigned, and whose inclusion proof leads from the entry to it.
func TestLedgerProofExport(t *testing.T) {
	dir := t.TempDir()
	l, pub := openLedger(t, nil, filepath.Join(dir, "state"))
	rec := []byte("MSH|proof")
	appendRecords(t, l, [][]byte{[]byte("r1"), rec, []byte("r3")})
	w := startWitness(t, "hospital-b", pub)
	witnessBy(t, l, w)
	rc, err := l.ReceiptByDigest(context.Background(), proof.Digest(rec))
	if err != nil {
		t.Fatal(err)
	}
	p, err := proof.TLogProof(rc)
	if err != nil {
		t.Fatal(err)
	}
	sock := serve(t, &proofBackend{testBackend: newTestBackend(0), digest: proof.Digest(rec), proof: p})
	d := proof.Digest(rec)
	out := filepath.Join(dir, "entry.tlog-proof")
	if r := wardgate(t, sock, "ledger", "proof", hex.EncodeToString(d[:]), "-o", out); r.code != 0 {
		t.Fatalf("ledger proof: %+v", r)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "c2sp.org/tlog-proof@v1\n") {
		t.Fatalf("not a tlog-proof:\n%s", raw)
	}
	var tp fproof.TLogProof
	if err := tp.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	logV, _ := proof.LogVerifier("hospital-a", pub)
	cosV, _ := proof.CosignatureVerifier("hospital-b", w.key)
	cp, _, n, err := tlog.ParseCheckpoint(tp.Checkpoint, "wardgate.example/log/hospital-a", logV, cosV)
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("checkpoint in the proof: %v (%d verified signatures, want log + witness)", err, len(n.Sigs))
	}
	hs := make([][]byte, len(tp.Hashes))
	for i := range tp.Hashes {
		hs[i] = tp.Hashes[i][:]
	}
	if err := merkleproof.VerifyInclusion(rfc6962.DefaultHasher, tp.Index, cp.Size, rfc6962.DefaultHasher.HashLeaf(tp.ExtraData), hs, cp.Hash); err != nil {
		t.Fatalf("inclusion proof in the tlog-proof: %v", err)
	}
	if r := wardgate(t, sock, "ledger", "proof", "abc"); r.code != 2 {
		t.Fatalf("a bad digest: %+v, want a usage error", r)
	}
}

// flipB64 is another base64 character than c.
func flipB64(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
