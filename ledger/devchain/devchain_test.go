package devchain_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/devchain"
	"github.com/wardgate/wardgate/ledger/proof"
)

func signer(t *testing.T, seed byte) *proof.KeySigner {
	t.Helper()
	s, err := proof.NewKeySigner(ed25519.NewKeyFromSeed(seedOf(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openLedger(t *testing.T, dir, box string, s proof.Signer, c *ledger.Chain) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(context.Background(), ledger.Config{Box: box, StateDir: dir, Signer: s, Chain: c,
		CheckpointInterval: time.Hour, CheckpointEntries: 1 << 40, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendAndAnchor appends n entries, signs a checkpoint and waits for its anchor.
func appendAndAnchor(t *testing.T, l *ledger.Ledger, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		rec := []byte{byte(i), byte(i >> 8)}
		e := proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(rec), Sender: "st-mary", Receiver: "city-general", ContentType: "application/hl7-v2"}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "anchor of size "+strconv.Itoa(n), func() bool {
		s := l.AnchoredSizes()
		return len(s) > 0 && s[len(s)-1] >= uint64(n)
	})
}

// TestEmbeddedChain starts the in-process dev chain, anchors through it,
// lets a second box join it over loopback JSON-RPC, and restarts it from
// its state dir with the anchors intact.
func TestEmbeddedChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stateA, stateB := t.TempDir(), t.TempDir()
	port := testutil.FreePort(t)
	cfg := func(dir, box string, rk ed25519.PublicKey) devchain.Config {
		return devchain.Config{StateDir: dir, Port: port, Passphrase: "pw", Poll: 20 * time.Millisecond, Logger: testutil.QuietLogger(), Box: box, RecordKey: rk}
	}
	a, err := devchain.Start(ctx, cfg(stateA, "st-mary", signer(t, 7).Public()))
	if err != nil {
		t.Fatal(err)
	}
	la := openLedger(t, stateA, "st-mary", signer(t, 7), a)
	appendAndAnchor(t, la, 6)

	// A second box on the same machine shares the chain.
	b, err := devchain.Start(ctx, cfg(stateB, "city-general", signer(t, 8).Public()))
	if err != nil {
		t.Fatal(err)
	}
	if b.Contract() != a.Contract() || b.Gateway() == a.Gateway() {
		t.Fatalf("second box: contract %s gateway %s; first: %s %s", b.Contract(), b.Gateway(), a.Contract(), a.Gateway())
	}
	sb := signer(t, 8)
	lb := openLedger(t, stateB, "city-general", sb, b)
	appendAndAnchor(t, lb, 3)
	r, err := lb.Receipt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ethclient.DialContext(ctx, "http://127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.Verify(ctx, r, proof.VerifyOptions{RecordKey: sb.Public(), Backend: cl, ChainID: ledger.DevChainID, Contract: b.Contract(), Gateway: b.Gateway()}); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	lb.Close()
	b.Close()

	// Restart the first box's chain from disk: the anchor is still there.
	la.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a2, err := devchain.Start(ctx, cfg(stateA, "st-mary", signer(t, 7).Public()))
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if a2.Gateway() != a.Gateway() {
		t.Fatal("gateway key not persisted in the state dir")
	}
	if sz, err := a2.LatestSize(ctx); err != nil || sz != 6 {
		t.Fatalf("after restart the chain says latest size %d (%v), want 6", sz, err)
	}
}

func seedOf(b byte) []byte { s := sha256.Sum256([]byte{b}); return s[:] }
