package clique

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
)

// blockHash is node i's hash of block num (zero if it has none).
func (nw *Net) blockHash(ctx context.Context, i int, num uint64) common.Hash {
	var h struct {
		Hash common.Hash `json:"hash"`
	}
	if err := nw.call(ctx, i, &h, "eth_getBlockByNumber", hexutil.EncodeUint64(num), false); err != nil {
		return common.Hash{}
	}
	return h.Hash
}

// headSigner is the number of node i's head and the account that sealed it.
func (nw *Net) headSigner(ctx context.Context, i int) (uint64, common.Address, error) {
	head, err := nw.Nodes[i].head(ctx)
	if err != nil {
		return 0, common.Address{}, err
	}
	var s common.Address
	err = nw.call(ctx, i, &s, "clique_getSigner", hexutil.EncodeUint64(head))
	return head, s, err
}

// peerCount is how many peers node i has.
func (nw *Net) peerCount(ctx context.Context, i int) int {
	var ps []any
	if err := nw.call(ctx, i, &ps, "admin_peers"); err != nil {
		return -1
	}
	return len(ps)
}

// pendingTxs is how many transactions wait in node i's pool.
func (nw *Net) pendingTxs(ctx context.Context, i int) uint64 {
	var st struct {
		Pending hexutil.Uint64 `json:"pending"`
	}
	if err := nw.call(ctx, i, &st, "txpool_status"); err != nil {
		return 0
	}
	return uint64(st.Pending)
}

// logHashes logs each node's hash of block num, to see who is on which side.
func (nw *Net) logHashes(t *testing.T, what string, num uint64) {
	t.Helper()
	ctx := context.Background()
	for i := range nw.Nodes {
		h, _ := nw.Nodes[i].head(ctx)
		t.Logf("%s: node %d head %d, block %d = %s", what, i, h, num, nw.blockHash(ctx, i, num))
	}
}

// TestConsortiumPartitionReorg forces a real reorg on the 3 Clique signers.
// The box talks only to signer 0. Signer 0 is cut off from the other two
// (admin_removePeer on every side, static peers removed with them); alone,
// it may seal one block (Clique's signer limit is 2 of 3) and the box's
// anchor transaction goes into that block, which the box reports
// anchored at min_depth 1. Signers 1 and 2 go on sealing a heavier chain.
// On rejoin signer 0 reorgs onto it and the anchor block is gone. The box
// must notice: its receipt never names the lost block once it re-checked,
// the checkpoint is anchored on the canonical chain again (re-included or
// re-sent), exactly once, and `verify` online passes on the new receipt
// and refuses the old one as anchor_reorged.
func TestConsortiumPartitionReorg(t *testing.T) {
	start := time.Now()
	n := startNet(t)
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	phase("3 signers up")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := newBoxDepth(t, "st-mary", n.Nodes[0].URL(), 1)
	a.waitAnchored(t, a.appendCheckpoint(t, 2), 30*time.Second) // contract and binding on every node
	phase("first checkpoint anchored")

	// Signer 0 stops sealing until its head is another signer's block on
	// every node: cut off then, it may seal exactly one block alone.
	if err := n.Sealing(ctx, 0, false); err != nil {
		t.Fatal(err)
	}
	me := n.Nodes[0].Signer()
	testutil.WaitForWithin(t, 20*time.Second, "a head sealed by another signer, shared by all", func() bool {
		h, s, err := n.headSigner(ctx, 0)
		return err == nil && s != me && n.blockHash(ctx, 1, h) == n.blockHash(ctx, 0, h) && n.blockHash(ctx, 2, h) == n.blockHash(ctx, 0, h)
	})
	phase("signer 0 stopped sealing; shared head")
	if err := n.Partition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForWithin(t, 10*time.Second, "signer 0 without peers", func() bool { return n.peerCount(ctx, 0) == 0 })
	fork, _ := n.Nodes[0].head(ctx)

	// The box anchors a checkpoint; its transaction reaches only signer 0.
	size := a.appendCheckpoint(t, 2)
	testutil.WaitForWithin(t, 20*time.Second, "the anchor tx in signer 0's pool", func() bool { return n.pendingTxs(ctx, 0) > 0 })
	if err := n.Sealing(ctx, 0, true); err != nil {
		t.Fatal(err)
	}
	a.waitAnchored(t, size, 30*time.Second)
	phase("anchored in the lone block")
	old, err := a.ledger.Receipt(ctx, size-1)
	if err != nil {
		t.Fatal(err)
	}
	x := old.Anchor.Block
	n.logHashes(t, "partitioned", x)
	if x != fork+1 || n.blockHash(ctx, 1, x) == old.Anchor.BlockHash {
		t.Fatalf("anchor in block %d (%s), want signer 0's lone block %d", x, old.Anchor.BlockHash, fork+1)
	}

	// The majority outweighs the lone block; rejoin, and signer 0 reorgs.
	if err := n.WaitBlock(ctx, 1, x+3); err != nil {
		t.Fatal(err)
	}
	phase("majority 3 blocks past it")
	if err := n.Rejoin(ctx, 0); err != nil {
		t.Fatal(err)
	}
	phase("rejoined")
	testutil.WaitForWithin(t, 30*time.Second, "signer 0 on the majority's chain", func() bool {
		h := n.blockHash(ctx, 0, x)
		return h != (common.Hash{}) && h == n.blockHash(ctx, 1, x)
	})
	phase("signer 0 reorged")
	n.logHashes(t, "rejoined", x)
	if h := n.blockHash(ctx, 0, x); h == old.Anchor.BlockHash {
		t.Fatalf("block %d is still %s after the rejoin: no reorg happened", x, h)
	}

	// The box re-checks (every few seconds): the receipt names a
	// canonical block again, and from then on never the lost one.
	cl := dial(t, n.Nodes[1].URL())
	canonical := func(r *proof.Receipt) bool {
		if r.Status != proof.StatusAnchored || r.Anchor.Size < size {
			return false
		}
		h, err := cl.HeaderByNumber(ctx, new(big.Int).SetUint64(r.Anchor.Block))
		return err == nil && h.Hash() == r.Anchor.BlockHash
	}
	var cur *proof.Receipt
	testutil.WaitForWithin(t, 30*time.Second, "a receipt anchored in a canonical block", func() bool {
		r, err := a.ledger.Receipt(ctx, size-1)
		if err != nil || !canonical(r) {
			return false
		}
		cur = r
		return true
	})
	phase("receipt names a canonical block")
	for range 4 {
		time.Sleep(time.Second) // more than a re-check round
		if r, err := a.ledger.Receipt(ctx, size-1); err != nil || r.Status == proof.StatusAnchored && r.Anchor.BlockHash == old.Anchor.BlockHash {
			t.Fatalf("after re-anchoring, the receipt went back to the lost block: %+v %v", r.Anchor, err)
		}
	}
	n.logHashes(t, "re-anchored", cur.Anchor.Block)
	t.Logf("anchor moved from block %d (%s) to block %d (%s), tx %s -> %s", x, old.Anchor.BlockHash, cur.Anchor.Block, cur.Anchor.BlockHash, old.Anchor.TxHash, cur.Anchor.TxHash)

	o := proof.VerifyOptions{RecordKey: a.key.Public().(ed25519.PublicKey), Backend: cl, ChainID: ChainID, Contract: a.chain.Contract(), Gateway: a.chain.Gateway(), MinDepth: 1}
	if _, err := proof.Verify(ctx, cur, o); err != nil {
		t.Fatalf("the new receipt does not verify online: %v", err)
	}
	if _, err := proof.Verify(ctx, old, o); !errors.Is(err, proof.ErrAnchorReorged) {
		t.Fatalf("the receipt naming the reorged block: got %v, want ErrAnchorReorged", err)
	}
	anchoredOnce(t, n.Nodes[1].URL(), a.chain.Contract(), a.chain.Gateway())
}
