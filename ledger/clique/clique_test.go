package clique

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/google/uuid"

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
	depth  uint64 // min_depth
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
	return newBoxDepth(t, name, url, minDepth)
}

// newBoxDepth is newBox with min_depth depth.
func newBoxDepth(t *testing.T, name string, url string, depth uint64) *box {
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
	c, err := ledger.NewChain(cl, ledger.ChainOptions{ChainID: ChainID, Contract: contract, Key: gw, Confirmations: depth, Poll: 100 * time.Millisecond})
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
	return &box{depth: depth, name: name, key: priv, gw: gw, chain: c, ledger: l}
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
	st := b.ledger.Status(ctx)
	size := st.Size
	if st.LastAnchor != nil {
		// The node asked may be a block behind the one the box used.
		testutil.WaitForWithin(t, 30*time.Second, url+" at the anchor depth", func() bool {
			h, err := cl.BlockNumber(ctx)
			return err == nil && h+1 >= st.LastAnchor.Block+b.depth
		})
	}
	for seq := uint64(0); seq < size; seq++ {
		r, err := b.ledger.Receipt(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != proof.StatusAnchored {
			t.Fatalf("%s receipt %d is %s, want anchored", b.name, seq, r.Status)
		}
		o := proof.VerifyOptions{RecordKey: b.key.Public().(ed25519.PublicKey), Backend: cl, ChainID: ChainID, Contract: b.chain.Contract(),
			Gateway: b.chain.Gateway(), MinDepth: b.depth}
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
	retire(t, n, 2)
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

// newRPCBox is a box in rpc mode on several endpoints, through DialRPC as
// the daemon opens it.
func newRPCBox(t *testing.T, name string, setupURL string, endpoints []string) *box {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, priv, _ := ed25519.GenerateKey(nil)
	gw, _ := crypto.GenerateKey()
	if _, err := ledger.SetupDev(ctx, dial(t, setupURL), ledger.DevGateway{Addr: crypto.PubkeyToAddress(gw.PublicKey), Box: name, RecordKey: priv.Public().(ed25519.PublicKey)}); err != nil {
		t.Fatal(err)
	}
	id, _ := uuid.NewRandom()
	js, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: crypto.PubkeyToAddress(gw.PublicKey), PrivateKey: gw}, "pw", keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	ks := filepath.Join(t.TempDir(), "gateway.json")
	if err := os.WriteFile(ks, js, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ledger.DialRPC(ctx, ledger.RPCConfig{Endpoints: endpoints, ChainID: ChainID, Contract: ledger.DevContractAddress(),
		KeystoreFile: ks, Passphrase: "pw", Confirmations: minDepth, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, _ := proof.NewKeySigner(priv)
	l, err := ledger.Open(ctx, ledger.Config{Box: name, StateDir: t.TempDir(), Signer: s, Chain: c, CheckpointInterval: time.Hour,
		AnchorInterval: 100 * time.Millisecond, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &box{depth: minDepth, name: name, key: priv, gw: gw, chain: c, ledger: l}
}

// endpointState is the health of url in b's status.
func (b *box) endpointState(t *testing.T, url string) ledger.EndpointHealth {
	t.Helper()
	for _, e := range b.ledger.Status(context.Background()).Endpoints {
		if e.URL == url {
			return e
		}
	}
	t.Fatalf("endpoint %s not in the status", url)
	return ledger.EndpointHealth{}
}

// retire stops signer i's sealing before a test kills it. Killed while
// sealing, it may have sealed the head and be in turn next: then both other
// signers may seal that height at the same difficulty, each keeps its own
// block (geth prefers a miner's own block on a tie) and neither may seal
// on top of it (Clique's signer limit, 2 of 3), so the chain halts for
// good with the anchor tx in both pools. That is Clique's liveness, not
// the box's. Once all nodes share a head another signer sealed, exactly
// one of the two may seal each next block. A tie formed meanwhile is
// broken by letting signer i seal again for a few blocks.
func retire(t *testing.T, n *Net, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		if err := n.Sealing(ctx, i, false); err != nil {
			t.Fatal(err)
		}
		from, err := n.Nodes[i].head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Two blocks on: a block signer i was sealing when stopped has
		// landed or lost by then.
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if n.sharedHeadSealedByOther(ctx, i, from+2) {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("signer %d: the other signers share no new head: %v", i, ctx.Err())
		}
		t.Logf("the other signers tied after signer %d stopped sealing; it seals again to break the tie", i)
		if err := n.Sealing(ctx, i, true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
	}
}

// sharedHeadSealedByOther reports whether every node's head is the same
// block, at least at atLeast, sealed by a signer other than i.
func (nw *Net) sharedHeadSealedByOther(ctx context.Context, i int, atLeast uint64) bool {
	j := (i + 1) % len(nw.Nodes)
	h, s, err := nw.headSigner(ctx, j)
	if err != nil || h < atLeast || s == nw.Nodes[i].Signer() {
		return false
	}
	want := nw.blockHash(ctx, j, h)
	for k := range nw.Nodes {
		if nw.blockHash(ctx, k, h) != want {
			return false
		}
	}
	return want != (common.Hash{})
}

// TestConsortiumEndpointFailover: one of the box's endpoints is a dead
// port; the box fails over past it, anchors, and its status shows the
// dead one unhealthy. When the active node dies too, it fails over to the
// next and anchoring goes on.
func TestConsortiumEndpointFailover(t *testing.T) {
	n := startNet(t)
	dead := "http://127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	eps := []string{dead, n.Nodes[0].URL(), n.Nodes[1].URL()}
	a := newRPCBox(t, "st-mary", n.Nodes[0].URL(), eps)
	a.waitAnchored(t, a.appendCheckpoint(t, 3), time.Minute)
	if e := a.endpointState(t, dead); e.Healthy || e.Active || e.Error == "" {
		t.Fatalf("dead endpoint shows %+v, want unhealthy with an error", e)
	}
	if e := a.endpointState(t, n.Nodes[0].URL()); !e.Healthy || !e.Active {
		t.Fatalf("node 0 shows %+v, want healthy and active", e)
	}
	a.verifyAll(t, n.Nodes[2].URL())

	retire(t, n, 0)
	n.Nodes[0].Kill()
	a.waitAnchored(t, a.appendCheckpoint(t, 2), time.Minute)
	testutil.WaitForWithin(t, 10*time.Second, "node 1 active", func() bool { return a.endpointState(t, n.Nodes[1].URL()).Active })
	if e := a.endpointState(t, n.Nodes[0].URL()); e.Healthy {
		t.Fatalf("killed node 0 shows %+v, want unhealthy", e)
	}
	a.verifyAll(t, n.Nodes[1].URL())
}
