package witness_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/witness"
)

func signer(t testing.TB, seed byte) *proof.KeySigner {
	t.Helper()
	s, err := proof.NewKeySigner(ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed)), 32))))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openLog opens a real journal-only ledger of box in a fresh directory and
// appends n entries.
func openLog(t testing.TB, box string, s proof.Signer, n int) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(context.Background(), ledger.Config{Box: box, StateDir: t.TempDir(), Signer: s, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	appendN(t, l, box, n)
	return l
}

func appendN(t testing.TB, l *ledger.Ledger, box string, n int) {
	t.Helper()
	for i := range n {
		rec := []byte{byte(i), byte(i >> 8), 7}
		if _, err := l.Append(context.Background(), proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(rec), Sender: box, Receiver: "peer", ContentType: "application/hl7-v2"}); err != nil {
			t.Fatal(err)
		}
	}
}

// logs is a witness's view of which peer logs it witnesses.
type logs map[string]ed25519.PublicKey // box -> record key

func (m logs) LogKey(origin string) (string, ed25519.PublicKey, bool) {
	box, ok := strings.CutPrefix(origin, proof.OriginPrefix)
	k, known := m[box]
	return box, k, ok && known
}

// box is a witnessing box: its witness served over HTTP, its own ledger
// (where evidence is journaled) and its record key.
type box struct {
	name    string
	signer  *proof.KeySigner
	w       *witness.Witness
	ledger  *ledger.Ledger
	url     string
	state   string
	evDir   string
	witness logs
}

func newBox(t *testing.T, name string, seed byte, peers logs) *box {
	t.Helper()
	b := &box{name: name, signer: signer(t, seed), witness: peers}
	dir := t.TempDir()
	b.state, b.evDir = filepath.Join(dir, "witness.json"), filepath.Join(dir, "evidence")
	b.ledger = openLog(t, name, b.signer, 0)
	b.start(t)
	return b
}

// start (re)opens the witness from its state file and serves it.
func (b *box) start(t *testing.T) {
	t.Helper()
	w, err := witness.New(witness.Config{Box: b.name, Signer: b.signer, Logs: b.witness, StatePath: b.state,
		Evidence: witness.JournalEvidence(b.ledger, b.name, b.evDir), Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	b.w, b.url = w, srv.URL
}

func (b *box) verifier(t testing.TB) note.Verifier {
	t.Helper()
	v, err := proof.CosignatureVerifier(b.name, b.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pusher has l witnessed by the given boxes.
func pusher(t *testing.T, l *ledger.Ledger, witnesses ...*box) *witness.Pusher {
	t.Helper()
	byName := map[string]*box{}
	var names []string
	for _, w := range witnesses {
		byName[w.name] = w
		names = append(names, w.name)
	}
	p := witness.NewPusher(witness.PusherConfig{
		Log:      l,
		Client:   &witness.Client{HTTP: http.DefaultClient, URL: func(peer string) string { return byName[peer].url }},
		Peers:    func() []string { return names },
		Verifier: func(peer string) (note.Verifier, bool) { return byName[peer].verifier(t), true },
		Logger:   testutil.Logger(t),
	})
	return p
}
