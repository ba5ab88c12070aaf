package ledger

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
)

// anchoredReceipt appends n entries to l, checkpoints and waits for the
// anchor, and returns the receipt of entry seq.
func anchoredReceipt(t *testing.T, l *Ledger, from, n int, seq uint64) *proof.Receipt {
	t.Helper()
	ctx := context.Background()
	appendN(t, l, from, n)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, cp.Size)
	r, err := l.Receipt(ctx, seq)
	if err != nil || r.Status != proof.StatusAnchored {
		t.Fatalf("receipt %d: %v %v, want anchored", seq, r, err)
	}
	return r
}

// TestForkedCheckpointAtRealAnchorRefused: the box's key signs a second,
// forked history of the same size (other records), and its receipt names
// the real anchor transaction, with the fork's root written in. Only the
// on-chain event's root tells them apart: verify must refuse the fork as
// root_not_on_chain.
func TestForkedCheckpointAtRealAnchorRefused(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	l := openTest(t, t.TempDir(), chain, nil)
	real := anchoredReceipt(t, l, 0, 4, 1)
	online := proof.VerifyOptions{RecordKey: testSigner(t, 7).Public(), Backend: sc.sim.Client(), ChainID: DevChainID,
		Contract: chain.Contract(), Gateway: chain.Gateway(), MinDepth: 1}
	if _, err := proof.Verify(ctx, real, online); err != nil {
		t.Fatalf("the real receipt: %v", err)
	}

	fork := openTest(t, t.TempDir(), nil, nil) // same box, same key, no chain
	appendN(t, fork, 100, 4)
	if _, err := fork.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	forged, err := fork.Receipt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if forged.Checkpoint.Size != real.Checkpoint.Size || forged.Checkpoint.Root == real.Checkpoint.Root {
		t.Fatalf("the fork is not a same-size checkpoint with another root: %d %s", forged.Checkpoint.Size, forged.Checkpoint.Root)
	}
	a := *real.Anchor
	a.Root = forged.Checkpoint.Root
	forged.Status, forged.Anchor = proof.StatusAnchored, &a
	if _, err := proof.Verify(ctx, forged, online); !errors.Is(err, proof.ErrRootNotOnChain) {
		t.Fatalf("forked checkpoint at the real anchor tx: got %v, want ErrRootNotOnChain", err)
	}
}

// TestAnchorOfAnotherTxInBlockRefused: two boxes anchor in the same block.
// A receipt of box A that names box B's transaction (in that block) must be
// refused: the event must come from the transaction the receipt names,
// not from anywhere in the block.
func TestAnchorOfAnotherTxInBlockRefused(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	b := sc.sim.Client()
	chainA, _ := sc.gateway(t)
	chainB, _ := sc.gatewayFor(t, "city-general", testSigner(t, 8).Public())
	la := openTest(t, t.TempDir(), chainA, nil)
	lb := openTest(t, t.TempDir(), chainB, func(c *Config) { c.Box, c.Signer = "city-general", testSigner(t, 8) })

	// Both anchor transactions wait in the pool; one block takes them.
	sc.pause()
	for _, l := range []*Ledger{la, lb} {
		appendN(t, l, 0, 3)
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "both anchor txs pending", func() bool {
		for _, c := range []*Chain{chainA, chainB} {
			p, err1 := b.PendingNonceAt(ctx, c.Gateway())
			n, err2 := b.NonceAt(ctx, c.Gateway(), nil)
			if err1 != nil || err2 != nil || p <= n {
				return false
			}
		}
		return true
	})
	sc.sim.Commit()
	sc.resume()
	waitAnchored(t, la, 3)
	waitAnchored(t, lb, 3)
	ra, _ := la.Receipt(ctx, 0)
	rb, _ := lb.Receipt(ctx, 0)
	if ra.Anchor.BlockHash != rb.Anchor.BlockHash || ra.Anchor.TxHash == rb.Anchor.TxHash {
		t.Fatalf("the anchors are not two txs of one block: %+v %+v", ra.Anchor, rb.Anchor)
	}
	online := proof.VerifyOptions{RecordKey: testSigner(t, 7).Public(), Backend: b, ChainID: DevChainID, Contract: chainA.Contract(), Gateway: chainA.Gateway(), MinDepth: 1}
	if _, err := proof.Verify(ctx, ra, online); err != nil {
		t.Fatalf("A's real receipt: %v", err)
	}
	a := *ra.Anchor
	a.TxHash = rb.Anchor.TxHash
	ra.Anchor = &a
	if _, err := proof.Verify(ctx, ra, online); !errors.Is(err, proof.ErrRootNotOnChain) {
		t.Fatalf("A's receipt naming B's tx of the same block: got %v, want ErrRootNotOnChain", err)
	}
}

// TestEndpointOfAnotherChainRefused: a box anchored on another chain (a
// separate geth with chain id 7799, the same contract at the same address
// and the same gateway) and its receipt, relabelled with the trusted chain
// id, is checked against that chain's endpoint. Everything else on that
// chain matches: only the endpoint's chain id shows it is not the trusted
// chain, and verify must refuse it as wrong_chain.
func TestEndpointOfAnotherChainRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: starts a geth process")
	}
	ctx := context.Background()
	const otherID = 7799
	gen := DevGenesis()
	gen.Config.ChainID = big.NewInt(otherID)
	g := newGethOn(t, gen)
	cfg := setupGethGateway(t, g)
	cfg.ChainID = otherID
	chain, err := DialRPC(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })
	l := openTest(t, t.TempDir(), chain, nil)
	r := anchoredReceipt(t, l, 0, 2, 0)
	cl, err := ethclient.DialContext(ctx, g.url())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	o := proof.VerifyOptions{RecordKey: testSigner(t, 7).Public(), Backend: cl, ChainID: otherID, Contract: cfg.Contract, Gateway: chain.Gateway(), MinDepth: 1}
	if _, err := proof.Verify(ctx, r, o); err != nil {
		t.Fatalf("the receipt on its own chain: %v", err)
	}
	a := *r.Anchor
	a.ChainID = DevChainID
	r.Anchor = &a
	o.ChainID = DevChainID
	if _, err := proof.Verify(ctx, r, o); !errors.Is(err, proof.ErrWrongChain) {
		t.Fatalf("a chain-%d anchor served as chain %d: got %v, want ErrWrongChain", otherID, DevChainID, err)
	}
}
