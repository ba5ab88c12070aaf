package ledger

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
)

// TestEmbeddedChain starts the in-process dev chain, anchors through it,
// lets a second box join it over loopback JSON-RPC, and restarts it from
// its state dir with the anchors intact.
func TestEmbeddedChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stateA, stateB := t.TempDir(), t.TempDir()
	port := freePort(t)
	a, err := StartEmbedded(ctx, EmbeddedConfig{StateDir: stateA, Port: port, Passphrase: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	a.poll = 20 * time.Millisecond
	la := openTest(t, stateA, a, nil)
	appendN(t, la, 0, 6)
	if _, err := la.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, la, 6)

	// A second box on the same machine shares the chain.
	b, err := StartEmbedded(ctx, EmbeddedConfig{StateDir: stateB, Port: port, Passphrase: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	b.poll = 20 * time.Millisecond
	if b.Contract() != a.Contract() || b.Gateway() == a.Gateway() {
		t.Fatalf("second box: contract %s gateway %s; first: %s %s", b.Contract(), b.Gateway(), a.Contract(), a.Gateway())
	}
	lb := openTest(t, stateB, b, func(c *Config) { c.Box = "city-general"; c.Signer = testSigner(t, 8) })
	appendN(t, lb, 0, 3)
	if _, err := lb.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, lb, 3)
	r, err := lb.Receipt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ethclient.DialContext(ctx, "http://127.0.0.1:"+itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, r, VerifyOptions{RecordKey: testSigner(t, 8).Public(), Backend: cl, ChainID: DevChainID, Contract: b.Contract(), Gateway: b.Gateway()}); err != nil {
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
	a2, err := StartEmbedded(ctx, EmbeddedConfig{StateDir: stateA, Port: port, Passphrase: "pw"})
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

func itoa(i int) string { return strconv.Itoa(i) }
