package ledger

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	bolt "go.etcd.io/bbolt"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/contracts"
	"github.com/wardgate/wardgate/ledger/proof"
)

// anchoredEvents counts the Anchored events of gateway at each size.
func anchoredEvents(t testing.TB, b proof.Backend, contract, gateway common.Address) map[uint64]int {
	t.Helper()
	abi := contracts.NewAnchor()
	logs, err := b.FilterLogs(context.Background(), ethereum.FilterQuery{
		FromBlock: big.NewInt(0),
		Addresses: []common.Address{contract},
		Topics:    [][]common.Hash{{abi.GetABI().Events["Anchored"].ID}, {common.BytesToHash(gateway.Bytes())}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]int{}
	for i := range logs {
		ev, err := abi.UnpackAnchoredEvent(&logs[i])
		if err != nil {
			t.Fatal(err)
		}
		out[ev.Size]++
	}
	return out
}

func appendN(t testing.TB, l *Ledger, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := l.Append(context.Background(), testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func waitAnchored(t testing.TB, l *Ledger, size uint64) {
	t.Helper()
	testutil.WaitFor(t, "anchor of size "+big.NewInt(int64(size)).String(), func() bool {
		s := l.AnchoredSizes()
		return len(s) > 0 && s[len(s)-1] >= size
	})
}

func TestAnchorReceiptVerify(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	b := sc.sim.Client()
	l := openTest(t, t.TempDir(), chain, func(c *Config) { c.CheckpointEntries = 10 })
	pub := testSigner(t, 7).Public()

	appendN(t, l, 0, 10)
	waitAnchored(t, l, 10)
	appendN(t, l, 10, 10)
	waitAnchored(t, l, 20)

	online := proof.VerifyOptions{RecordKey: pub, Backend: b, ChainID: DevChainID, Contract: chain.Contract(), Gateway: chain.Gateway(), MinDepth: 1}
	rec := []byte{3, 0, 0}
	r, err := l.Receipt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != proof.StatusAnchored || r.Checkpoint.Size != 10 {
		t.Fatalf("receipt of entry 3: status %s at size %d, want anchored at 10", r.Status, r.Checkpoint.Size)
	}
	o := online
	o.Record = rec
	res, err := proof.Verify(ctx, r, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Anchored || res.Depth < 1 || res.Entry.Digest != proof.Digest(rec) {
		t.Fatalf("verify result %+v", res)
	}

	// The file round-trips through the parser.
	js, _ := r.Marshal()
	r2, err := proof.ParseReceipt(js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.Verify(ctx, r2, online); err != nil {
		t.Fatal(err)
	}

	t.Run("flipped proof byte", func(t *testing.T) {
		bad, _ := proof.ParseReceipt(js)
		bad.InclusionProof[0][5] ^= 1
		if _, err := proof.Verify(ctx, bad, proof.VerifyOptions{RecordKey: pub}); !errors.Is(err, proof.ErrBadProof) {
			t.Fatalf("got %v, want ErrBadProof", err)
		}
	})
	t.Run("wrong root in checkpoint", func(t *testing.T) {
		bad, _ := proof.ParseReceipt(js)
		bad.Checkpoint.Root[0] ^= 1
		if _, err := proof.Verify(ctx, bad, proof.VerifyOptions{RecordKey: pub}); !errors.Is(err, proof.ErrBadSignature) {
			t.Fatalf("got %v, want ErrBadSignature", err)
		}
	})
	t.Run("wrong root on chain", func(t *testing.T) {
		// A box re-signs a checkpoint with a root that was never anchored
		// and points at a real anchor tx: the chain has another root.
		other, err := l.Receipt(ctx, 15)
		if err != nil {
			t.Fatal(err)
		}
		bad, _ := proof.ParseReceipt(js)
		a := *other.Anchor
		a.Size, a.Root = bad.Checkpoint.Size, bad.Checkpoint.Root
		bad.Anchor = &a
		if _, err := proof.Verify(ctx, bad, online); !errors.Is(err, proof.ErrRootNotOnChain) {
			t.Fatalf("got %v, want ErrRootNotOnChain", err)
		}
	})
	t.Run("record not matching digest", func(t *testing.T) {
		o := online
		o.Record = []byte("not the record")
		if _, err := proof.Verify(ctx, r, o); !errors.Is(err, proof.ErrDigestMismatch) {
			t.Fatalf("got %v, want ErrDigestMismatch", err)
		}
	})
	t.Run("truncated receipt file", func(t *testing.T) {
		for _, n := range []int{0, 1, len(js) / 3, len(js) / 2, len(js) - 2} {
			if _, err := proof.ReadReceipt(bytes.NewReader(js[:n])); !errors.Is(err, proof.ErrMalformedReceipt) {
				t.Fatalf("truncated to %d bytes: got %v, want ErrMalformedReceipt", n, err)
			}
		}
	})
	t.Run("wrong record key", func(t *testing.T) {
		if _, err := proof.Verify(ctx, r, proof.VerifyOptions{RecordKey: testSigner(t, 9).Public()}); !errors.Is(err, proof.ErrWrongKey) {
			t.Fatalf("got %v, want ErrWrongKey", err)
		}
	})

	// Consistency between the two anchored checkpoints, online.
	cp, err := l.ConsistencyBetween(ctx, 10, 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(ctx, cp, online); err != nil {
		t.Fatal(err)
	}
	cp.Proof[0][0] ^= 1
	if err := proof.VerifyConsistency(ctx, cp, online); !errors.Is(err, proof.ErrBadProof) {
		t.Fatalf("flipped consistency proof: got %v, want ErrBadProof", err)
	}

	if ev := anchoredEvents(t, b, chain.Contract(), chain.Gateway()); len(ev) != 2 || ev[10] != 1 || ev[20] != 1 {
		t.Fatalf("anchored events %v, want sizes 10 and 20 once each", ev)
	}

	t.Run("root from unregistered account", func(t *testing.T) {
		// The admin removes the gateway: its anchors no longer count.
		admin := DevAdminKey()
		abi := contracts.NewAnchor()
		nonce, _ := b.PendingNonceAt(ctx, crypto.PubkeyToAddress(admin.PublicKey))
		head, _ := b.HeaderByNumber(ctx, nil)
		ca := chain.Contract()
		tx, _ := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(DevChainID), Nonce: nonce, GasTipCap: big.NewInt(1e9),
			GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), big.NewInt(1e9)), Gas: 100000, To: &ca,
			Data: abi.PackRevoke(chain.Gateway())}), types.LatestSignerForChainID(big.NewInt(DevChainID)), admin)
		if err := b.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, "removal mined", func() bool { rc, err := b.TransactionReceipt(ctx, tx.Hash()); return err == nil && rc.Status == 1 })
		if _, err := proof.Verify(ctx, r, online); !errors.Is(err, proof.ErrUnregisteredGateway) {
			t.Fatalf("got %v, want ErrUnregisteredGateway", err)
		}
	})
}

func TestPendingReceiptUpgrade(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	dir := t.TempDir()
	pub := testSigner(t, 7).Public()

	// Journal-only first: the receipt is pending but verifies offline.
	l := openTest(t, dir, nil, nil)
	appendN(t, l, 0, 5)
	r, err := l.Receipt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != proof.StatusPending {
		t.Fatalf("status %s, want pending", r.Status)
	}
	if _, err := proof.Verify(ctx, r, proof.VerifyOptions{RecordKey: pub}); err != nil {
		t.Fatal(err)
	}
	online := proof.VerifyOptions{RecordKey: pub, Backend: sc.sim.Client(), ChainID: DevChainID, Contract: chain.Contract()}
	if _, err := proof.Verify(ctx, r, online); !errors.Is(err, proof.ErrPending) {
		t.Fatalf("got %v, want ErrPending", err)
	}
	appendN(t, l, 5, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()

	// With the chain, the backlog (the newest checkpoint only) is anchored
	// and the receipt upgrades.
	l = openTest(t, dir, chain, nil)
	waitAnchored(t, l, 8)
	up, err := l.Upgrade(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if up.Status != proof.StatusAnchored || up.Checkpoint.Size != 8 {
		t.Fatalf("upgraded receipt: %s at %d", up.Status, up.Checkpoint.Size)
	}
	if _, err := proof.Verify(ctx, up, online); err != nil {
		t.Fatal(err)
	}
	if ev := anchoredEvents(t, sc.sim.Client(), chain.Contract(), chain.Gateway()); len(ev) != 1 || ev[8] != 1 {
		t.Fatalf("anchored events %v, want only size 8 once (the checkpoint at 5 rides on it)", ev)
	}
	if s := l.Status(ctx); s.Backlog != 0 || !s.ChainConnected || s.LastAnchor == nil {
		t.Fatalf("status %+v", s)
	}
}

// TestRestartAfterUnrecordedAnchor: the process died after its anchor tx
// was mined but before it recorded it. On restart the ledger must learn the
// anchor from the chain instead of sending a second transaction.
func TestRestartAfterUnrecordedAnchor(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	b := sc.sim.Client()
	dir := t.TempDir()
	l := openTest(t, dir, chain, nil)
	appendN(t, l, 0, 4)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 4)
	l.Close()
	db, err := bolt.Open(dir+"/ledger.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketAnchors).Delete(u64key(4)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	nonce, _ := b.NonceAt(ctx, chain.Gateway(), nil)

	l = openTest(t, dir, chain, nil)
	if n := len(l.AnchoredSizes()); n != 0 {
		t.Fatalf("test setup: %d anchors still recorded", n)
	}
	kick(l.anKick)
	waitAnchored(t, l, 4)
	time.Sleep(100 * time.Millisecond)
	if n2, _ := b.NonceAt(ctx, chain.Gateway(), nil); n2 != nonce {
		t.Fatalf("gateway sent %d more txs after restart, want 0", n2-nonce)
	}
	if ev := anchoredEvents(t, b, chain.Contract(), chain.Gateway()); ev[4] != 1 {
		t.Fatalf("size 4 anchored %d times", ev[4])
	}
}

// TestStalledChainNamed: an anchor that waits on a chain that sealed no
// block meanwhile fails its round with ErrChainStalled in `ledger status`
// (not a bare timeout), and is mined once the chain seals again.
func TestStalledChainNamed(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	l := openTest(t, t.TempDir(), chain, nil)
	appendN(t, l, 0, 1)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 1)
	if chain.mineTimeout != DefaultMineTimeout {
		t.Fatalf("chain waits %s for an anchor to be mined, want the default %s", chain.mineTimeout, DefaultMineTimeout)
	}
	chain.mineTimeout = 500 * time.Millisecond
	sc.pause()
	appendN(t, l, 1, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForWithin(t, 30*time.Second, "ledger status naming the stalled chain", func() bool {
		return strings.Contains(l.Status(ctx).ChainError, ErrChainStalled.Error())
	})
	if s := l.Status(ctx); s.ChainConnected || !s.ChainStalled || s.Backlog != 3 {
		t.Fatalf("status while stalled %+v, want stalled, not connected and a backlog of 3", s)
	}
	sc.resume()
	waitAnchored(t, l, 4)
	testutil.WaitFor(t, "ledger status clear once the chain seals again", func() bool {
		s := l.Status(ctx)
		return !s.ChainStalled && s.ChainError == ""
	})
}

// filterRecorder records where each log search starts.
type filterRecorder struct {
	proof.Backend
	mu    sync.Mutex
	froms []uint64
}

func (f *filterRecorder) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	f.mu.Lock()
	from := uint64(0)
	if q.FromBlock != nil {
		from = q.FromBlock.Uint64()
	}
	f.froms = append(f.froms, from)
	f.mu.Unlock()
	return f.Backend.FilterLogs(ctx, q)
}

// TestAnchorSearchStartsAtLastAnchor: looking up a new anchor's event
// searches from the block of the anchor before it, not from genesis, so
// anchoring does not slow down as the chain grows.
func TestAnchorSearchStartsAtLastAnchor(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	c0, key := sc.gateway(t)
	rec := &filterRecorder{Backend: sc.sim.Client()}
	chain, err := NewChain(rec, ChainOptions{ChainID: DevChainID, Contract: c0.Contract(), Key: key, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l := openTest(t, t.TempDir(), chain, nil)
	appendN(t, l, 0, 2)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 2)
	first := l.Status(ctx).LastAnchor.Block
	appendN(t, l, 2, 2)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 4)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if n := len(rec.froms); n < 2 || rec.froms[n-1] != first || first == 0 {
		t.Fatalf("log searches started at blocks %v, want the last from %d, the first anchor's block", rec.froms, first)
	}
}
