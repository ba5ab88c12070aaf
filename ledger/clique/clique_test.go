package clique

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"math/big"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/contracts"
	"github.com/wardgate/wardgate/ledger/proof"
)

// minDepth is the depth a receipt needs on the Clique network before it
// counts: Clique has no finality, so one block is not enough.
const minDepth = 2

func startNet(t *testing.T) *Net {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED in -short: starts three geth processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := Binary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(ctx, Options{Bin: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// box is one hospital box's ledger anchoring through the consortium in rpc mode.
type box struct {
	name   string
	key    ed25519.PrivateKey
	gw     *ecdsa.PrivateKey
	chain  *ledger.Chain
	ledger *ledger.Ledger
}

func dial(t *testing.T, url string) *ethclient.Client {
	t.Helper()
	cl, err := ethclient.DialContext(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newBox registers a box's gateway through the admin and opens its ledger
// on url.
func newBox(t *testing.T, name string, url string) *box {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, priv, _ := ed25519.GenerateKey(nil)
	gw, _ := crypto.GenerateKey()
	cl := dial(t, url)
	contract, err := ledger.SetupDev(ctx, cl, ledger.DevGateway{Addr: crypto.PubkeyToAddress(gw.PublicKey), Box: name, RecordKey: priv.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ledger.NewChain(cl, ledger.ChainOptions{ChainID: ChainID, Contract: contract, Key: gw, Confirmations: minDepth, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := proof.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, ledger.Config{Box: name, StateDir: t.TempDir(), Signer: s, Chain: c, CheckpointInterval: time.Hour,
		AnchorInterval: 100 * time.Millisecond, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &box{name: name, key: priv, gw: gw, chain: c, ledger: l}
}

// appendCheckpoint appends n records and makes a checkpoint of them.
func (b *box) appendCheckpoint(t *testing.T, n int) uint64 {
	t.Helper()
	ctx := context.Background()
	for range n {
		rec := make([]byte, 16)
		copy(rec, b.name)
		rec[15] = byte(b.ledger.CheckpointSize())
		if _, err := b.ledger.Append(ctx, proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(rec), Sender: b.name, Receiver: "peer", ContentType: "application/hl7-v2"}); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := b.ledger.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

func (b *box) waitAnchored(t *testing.T, size uint64, within time.Duration) {
	t.Helper()
	testutil.WaitForWithin(t, within, b.name+" anchored through size "+big.NewInt(int64(size)).String(), func() bool {
		s := b.ledger.AnchoredSizes()
		return len(s) > 0 && s[len(s)-1] >= size
	})
}

// verifyAll verifies every receipt of b online against url, pinned, at
// minDepth.
func (b *box) verifyAll(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	cl := dial(t, url)
	size := b.ledger.Status(ctx).Size
	for seq := uint64(0); seq < size; seq++ {
		r, err := b.ledger.Receipt(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != proof.StatusAnchored {
			t.Fatalf("%s receipt %d is %s, want anchored", b.name, seq, r.Status)
		}
		o := proof.VerifyOptions{RecordKey: b.key.Public().(ed25519.PublicKey), Backend: cl, ChainID: ChainID, Contract: b.chain.Contract(),
			Gateway: b.chain.Gateway(), MinDepth: minDepth}
		if _, err := proof.Verify(ctx, r, o); err != nil {
			t.Fatalf("%s receipt %d on %s: %v", b.name, seq, url, err)
		}
	}
}

// anchoredOnce fails unless every Anchored event of gw's is for a distinct size.
func anchoredOnce(t *testing.T, url string, contract, gw common.Address) int {
	t.Helper()
	abi := contracts.NewAnchor()
	logs, err := dial(t, url).FilterLogs(context.Background(), ethereum.FilterQuery{FromBlock: big.NewInt(0), Addresses: []common.Address{contract},
		Topics: [][]common.Hash{{abi.GetABI().Events["Anchored"].ID}, {common.BytesToHash(gw.Bytes())}}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for i := range logs {
		ev, err := abi.UnpackAnchoredEvent(&logs[i])
		if err != nil {
			t.Fatal(err)
		}
		if seen[ev.Size] {
			t.Errorf("size %d anchored twice", ev.Size)
		}
		seen[ev.Size] = true
	}
	return len(seen)
}

// TestConsortiumLosingSigners runs boxes A and B in rpc mode against three
// Clique signers: records anchor and verify on chain; with one signer
// killed mid-stream anchoring goes on; with two killed the chain stalls and
// receipts stay pending, nothing lost; with one restarted the backlog is
// anchored, each checkpoint exactly once.
func TestConsortiumLosingSigners(t *testing.T) {
	n := startNet(t)
	ctx := context.Background()
	a := newBox(t, "st-mary", n.Nodes[0].URL())
	b := newBox(t, "city-general", n.Nodes[0].URL())
	sa, sb := a.appendCheckpoint(t, 5), b.appendCheckpoint(t, 3)
	a.waitAnchored(t, sa, time.Minute)
	b.waitAnchored(t, sb, time.Minute)
	a.verifyAll(t, n.Nodes[2].URL())
	b.verifyAll(t, n.Nodes[1].URL())

	// One signer down, mid-stream: two of three still seal.
	a.appendCheckpoint(t, 2)
	n.Nodes[2].Kill()
	sa = a.appendCheckpoint(t, 2)
	sb = b.appendCheckpoint(t, 2)
	a.waitAnchored(t, sa, time.Minute)
	b.waitAnchored(t, sb, time.Minute)
	a.verifyAll(t, n.Nodes[1].URL())
	b.verifyAll(t, n.Nodes[0].URL())

	// Two down: one of three cannot seal; receipts stay pending.
	n.Nodes[1].Kill()
	stalled := a.appendCheckpoint(t, 3)
	time.Sleep(4 * time.Second) // several block periods
	if s := a.ledger.Status(ctx); s.LastAnchor != nil && s.LastAnchor.Size >= stalled {
		t.Fatalf("anchored size %d with one signer of three", s.LastAnchor.Size)
	}
	r, err := a.ledger.Receipt(ctx, stalled-1)
	if err != nil || r.Status != proof.StatusPending {
		t.Fatalf("receipt on a stalled chain: %v %v, want pending", r, err)
	}
	more := a.appendCheckpoint(t, 1)

	// One back: the backlog is anchored, each checkpoint once.
	if err := n.Nodes[1].Start(ctx); err != nil {
		t.Fatal(err)
	}
	a.waitAnchored(t, more, 90*time.Second)
	a.verifyAll(t, n.Nodes[1].URL())
	anchoredOnce(t, n.Nodes[0].URL(), a.chain.Contract(), a.chain.Gateway())
	anchoredOnce(t, n.Nodes[0].URL(), b.chain.Contract(), b.chain.Gateway())
}

