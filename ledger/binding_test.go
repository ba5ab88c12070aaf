package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/chainadmin"
	"github.com/wardgate/wardgate/ledger/contracts"
	"github.com/wardgate/wardgate/ledger/proof"
)

// forgeAnchored anchors the checkpoint of r with gateway key gwKey under
// the log hash the gateway is bound to (ownLog), as a rogue box with a
// registered account can, and returns r upgraded with that anchor.
func forgeAnchored(t *testing.T, sc *simChain, contract *Chain, gwKeyChain *Chain, r *proof.Receipt, ownLog string) *proof.Receipt {
	t.Helper()
	ctx := context.Background()
	s, err := chainadmin.NewSender(ctx, sc.sim.Client(), gwKeyChain.key)
	if err != nil {
		t.Fatal(err)
	}
	ca := contract.Contract()
	rc, err := s.Send(ctx, &ca, nil, contracts.NewAnchor().PackAnchor(r.Checkpoint.Size, r.Checkpoint.Root, proof.LogHash(ownLog)))
	if err != nil {
		t.Fatalf("forged anchor tx: %v", err)
	}
	f := *r
	f.Status = proof.StatusAnchored
	f.Anchor = &proof.Anchor{Size: r.Checkpoint.Size, Root: r.Checkpoint.Root, ChainID: DevChainID, Contract: ca, Gateway: gwKeyChain.Gateway(),
		TxHash: rc.TxHash, Block: rc.BlockNumber.Uint64(), BlockHash: rc.BlockHash}
	return &f
}

// TestForgedLogAnchorRefused reproduces the forgery of issue 16: with the
// gateway account of box c (registered, bound to "c"), a log named like box
// st-mary is signed with a fresh key and its root anchored. The contract
// refuses the anchor under st-mary's log hash; anchored under c's own log
// hash, online verification refuses it as gateway_not_bound, with the key
// from the receipt and with the forger's key pinned.
func TestForgedLogAnchorRefused(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	box, _ := sc.gateway(t) // st-mary, record key 7
	_, cPriv, _ := ed25519.GenerateKey(nil)
	cChain, _ := sc.gatewayFor(t, "c", cPriv.Public().(ed25519.PublicKey))

	// The forger's ledger: log "st-mary", a fresh record key.
	forger := openTest(t, t.TempDir(), nil, func(c *Config) { c.Signer = testSigner(t, 99) })
	appendN(t, forger, 0, 4)
	if _, err := forger.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := forger.Receipt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}

	// Anchoring under st-mary's log hash from c's account reverts.
	s, _ := chainadmin.NewSender(ctx, sc.sim.Client(), cChain.key)
	ca := box.Contract()
	if _, err := s.Send(ctx, &ca, nil, contracts.NewAnchor().PackAnchor(r.Checkpoint.Size, r.Checkpoint.Root, proof.LogHash("st-mary"))); err == nil || !strings.Contains(err.Error(), "reverted") {
		t.Fatalf("anchor of another box's log: got %v, want a revert", err)
	}

	forged := forgeAnchored(t, sc, box, cChain, r, "c")
	online := proof.VerifyOptions{Backend: sc.sim.Client(), ChainID: DevChainID, Contract: ca}
	if _, err := proof.Verify(ctx, forged, online); !errors.Is(err, proof.ErrGatewayNotBound) {
		t.Fatalf("forged receipt, key from receipt: got %v, want ErrGatewayNotBound", err)
	}
	online.RecordKey = testSigner(t, 99).Public()
	if _, err := proof.Verify(ctx, forged, online); !errors.Is(err, proof.ErrGatewayNotBound) {
		t.Fatalf("forged receipt, forger's key pinned: got %v, want ErrGatewayNotBound", err)
	}
	online.RecordKey = testSigner(t, 7).Public()
	if _, err := proof.Verify(ctx, forged, online); !errors.Is(err, proof.ErrWrongKey) {
		t.Fatalf("forged receipt, st-mary's key pinned: got %v, want ErrWrongKey", err)
	}
}

// TestKeyRotationKeepsOldReceipts: after the admin rotates a gateway's
// record key, receipts anchored under the old key still verify, while a
// checkpoint signed with the old key and anchored after the rotation does
// not.
func TestKeyRotationKeepsOldReceipts(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	l := openTest(t, t.TempDir(), chain, nil)
	appendN(t, l, 0, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 3)
	old, err := l.Receipt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := chainadmin.NewSender(ctx, sc.sim.Client(), DevAdminKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Rotate(ctx, chain.Contract(), chain.Gateway(), testSigner(t, 8).Public()); err != nil {
		t.Fatal(err)
	}
	online := proof.VerifyOptions{RecordKey: testSigner(t, 7).Public(), Backend: sc.sim.Client(), ChainID: DevChainID, Contract: chain.Contract()}
	if _, err := proof.Verify(ctx, old, online); err != nil {
		t.Fatalf("receipt anchored before the rotation: %v", err)
	}
	// The box keeps signing with the old key after the rotation: refused.
	appendN(t, l, 3, 2)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 5)
	late, err := l.Receipt(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.Verify(ctx, late, online); !errors.Is(err, proof.ErrGatewayNotBound) {
		t.Fatalf("old key anchored after rotation: got %v, want ErrGatewayNotBound", err)
	}
	// Only the admin may rotate.
	gw, _ := chainadmin.NewSender(ctx, sc.sim.Client(), chain.key)
	if _, err := gw.Rotate(ctx, chain.Contract(), chain.Gateway(), testSigner(t, 9).Public()); err == nil {
		t.Fatal("a gateway rotated its own key")
	}
}

// TestReorgedAnchorSentAgain: the block holding an anchor is reorged out
// (a longer side chain from its parent). The ledger notices on its next
// round, drops or moves the anchor, anchors again, and every receipt then
// names a canonical block and verifies on chain.
func TestReorgedAnchorSentAgain(t *testing.T) {
	ctx := context.Background()
	sc := newSimChain(t)
	chain, _ := sc.gateway(t)
	l := openTest(t, t.TempDir(), chain, nil)
	appendN(t, l, 0, 3)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 3)
	stale := *l.Status(ctx).LastAnchor
	staleRc, err := l.Receipt(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := sc.sim.Client()
	parent, err := b.HeaderByNumber(ctx, new(big.Int).SetUint64(stale.Block-1))
	if err != nil {
		t.Fatal(err)
	}
	sc.pause()
	if err := sc.sim.Fork(parent.Hash()); err != nil {
		t.Fatal(err)
	}
	head, _ := b.BlockNumber(ctx)
	for range head - stale.Block + 3 {
		sc.sim.Commit()
	}
	if h, err := b.HeaderByNumber(ctx, new(big.Int).SetUint64(stale.Block)); err != nil || h.Hash() == stale.BlockHash {
		t.Fatalf("the anchor block is still canonical after the fork (%v)", err)
	}
	sc.resume()
	// The receipt issued before the reorg names a lost block: refused by name.
	if _, err := proof.Verify(ctx, staleRc, proof.VerifyOptions{RecordKey: testSigner(t, 7).Public(), Backend: b, ChainID: DevChainID,
		Contract: chain.Contract()}); !errors.Is(err, proof.ErrAnchorReorged) {
		t.Fatalf("receipt naming the reorged-out block: got %v, want ErrAnchorReorged", err)
	}

	appendN(t, l, 3, 1) // a new checkpoint kicks the anchorer
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	online := proof.VerifyOptions{RecordKey: testSigner(t, 7).Public(), Backend: b, ChainID: DevChainID, Contract: chain.Contract()}
	testutil.WaitForWithin(t, 20*time.Second, "every receipt anchored in a canonical block", func() bool {
		for seq := uint64(0); seq < 4; seq++ {
			r, err := l.Receipt(ctx, seq)
			if err != nil || r.Anchor == nil || r.Anchor.BlockHash == stale.BlockHash {
				return false
			}
			if _, err := proof.Verify(ctx, r, online); err != nil {
				return false
			}
		}
		return true
	})
	if ev := anchoredEvents(t, b, chain.Contract(), chain.Gateway()); len(ev) == 0 {
		t.Fatal("no Anchored events on the canonical chain")
	} else {
		for size, n := range ev {
			if n != 1 {
				t.Errorf("size %d anchored %d times on the canonical chain", size, n)
			}
		}
	}
}
