package ledger

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/wardgate/wardgate/ledger/contracts"
	"github.com/wardgate/wardgate/ledger/proof"
)

// Chain is a gateway account on a chain holding the anchor contract.
type Chain struct {
	backend       proof.Backend
	key           *ecdsa.PrivateKey
	gateway       common.Address
	chainID       *big.Int
	contract      common.Address
	confirmations uint64
	poll          time.Duration
	mineTimeout   time.Duration
	abi           *contracts.Anchor
	bound         *bind.BoundContract
	closers       []func() error
	health        func() []EndpointHealth
}

// ChainOptions describes a chain connection that is already open.
type ChainOptions struct {
	ChainID       uint64
	Contract      common.Address
	Key           *ecdsa.PrivateKey // the gateway account
	Confirmations uint64            // blocks on top of the anchor block before it counts (0 = mined)
	Poll          time.Duration     // receipt polling interval (default 250ms)
	// MineTimeout is how long an anchor transaction may wait to be mined
	// before the round fails and `ledger status` says the chain looks
	// stalled (default DefaultMineTimeout).
	MineTimeout time.Duration
}

// DefaultMineTimeout is ChainOptions.MineTimeout's default: many blocks of
// any consortium chain, so that only a chain that stopped sealing (or
// drops the transaction) reaches it.
const DefaultMineTimeout = 2 * time.Minute

// NewChain wraps a backend. It does not talk to the chain; the anchorer
// checks the chain id and the contract on first use, so a box can start
// while the chain is down.
func NewChain(b proof.Backend, o ChainOptions) (*Chain, error) {
	if o.Key == nil {
		return nil, errors.New("ledger: chain gateway key is nil")
	}
	if o.Contract == (common.Address{}) {
		return nil, errors.New("ledger: chain contract address is empty; deploy the anchor contract and set it")
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.MineTimeout <= 0 {
		o.MineTimeout = DefaultMineTimeout
	}
	c := &Chain{
		backend: b, key: o.Key, gateway: crypto.PubkeyToAddress(o.Key.PublicKey),
		chainID: new(big.Int).SetUint64(o.ChainID), contract: o.Contract,
		confirmations: o.Confirmations, poll: o.Poll, mineTimeout: o.MineTimeout, abi: contracts.NewAnchor(),
	}
	c.bound = c.abi.Instance(b, o.Contract)
	return c, nil
}

// OnClose adds a function that Close calls, after the ones added before it;
// the embedded dev chain stops its node this way.
func (c *Chain) OnClose(f func() error) { c.closers = append(c.closers, f) }

// RPCConfig is the "rpc" chain mode: external JSON-RPC endpoints of one
// chain, one per consortium validator or RPC node.
type RPCConfig struct {
	URL           string   // a single endpoint (the first, if Endpoints are set too)
	Endpoints     []string // failed over in this order, each health-checked
	ChainID       uint64
	Contract      common.Address
	KeystoreFile  string // go-ethereum encrypted keystore JSON of the gateway account
	Passphrase    string
	Confirmations uint64 // chain.min_depth: blocks, counting the anchor block, before a receipt says anchored
	Logger        *slog.Logger
}

// urls is URL followed by the Endpoints not equal to it.
func (cfg RPCConfig) urls() []string {
	var out []string
	if cfg.URL != "" {
		out = append(out, cfg.URL)
	}
	for _, u := range cfg.Endpoints {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// DialRPC opens the "rpc" chain mode. Dialling HTTP does not need the node up.
func DialRPC(ctx context.Context, cfg RPCConfig) (*Chain, error) {
	kj, err := os.ReadFile(cfg.KeystoreFile)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading chain keystore file: %w", err)
	}
	k, err := keystore.DecryptKey(kj, cfg.Passphrase)
	if err != nil {
		return nil, fmt.Errorf("ledger: decrypting chain keystore %s (check the passphrase): %w", cfg.KeystoreFile, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	fo, err := dialFailover(ctx, cfg.urls(), cfg.Logger.With("component", "ledger-chain"))
	if err != nil {
		return nil, err
	}
	c, err := NewChain(fo, ChainOptions{ChainID: cfg.ChainID, Contract: cfg.Contract, Key: k.PrivateKey, Confirmations: cfg.Confirmations})
	if err != nil {
		fo.Close()
		return nil, err
	}
	c.health = fo.Health
	c.closers = append(c.closers, fo.Close)
	return c, nil
}

// Endpoints is the health of each rpc endpoint; nil for a chain with one
// client (the embedded dev chain).
func (c *Chain) Endpoints() []EndpointHealth {
	if c == nil || c.health == nil {
		return nil
	}
	return c.health()
}

// Gateway is the account that anchors.
func (c *Chain) Gateway() common.Address { return c.gateway }

// Contract is the anchor contract's address.
func (c *Chain) Contract() common.Address { return c.contract }

// ChainID is the configured chain id.
func (c *Chain) ChainID() uint64 { return c.chainID.Uint64() }

// Backend is the client the chain talks through.
func (c *Chain) Backend() proof.Backend { return c.backend }

// Close releases the client (and an embedded node).
func (c *Chain) Close() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i]())
	}
	return errors.Join(errs...)
}

// LatestSize is the contract's latest anchored size for this gateway.
func (c *Chain) LatestSize(ctx context.Context) (uint64, error) {
	return bind.Call(c.bound, &bind.CallOpts{Context: ctx}, c.abi.PackLatestSize(c.gateway), c.abi.UnpackLatestSize)
}

// checkChain verifies that the endpoint is the chain and contract we expect.
func (c *Chain) checkChain(ctx context.Context) error {
	id, err := c.backend.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("ledger: chain id: %w", err)
	}
	if id.Cmp(c.chainID) != 0 {
		return fmt.Errorf("ledger: endpoint serves chain id %v, config says %v", id, c.chainID)
	}
	code, err := c.backend.CodeAt(ctx, c.contract, nil)
	if err != nil {
		return fmt.Errorf("ledger: reading contract code: %w", err)
	}
	if len(code) == 0 {
		return fmt.Errorf("ledger: no contract at %s on chain %v; deploy it or fix the contract address", c.contract, c.chainID)
	}
	return nil
}

// findAnchor looks up the Anchored event of this gateway at size in the
// blocks from block from on. Callers pass the block of the anchor before
// it: the gateway account's nonces order its anchors, so a later one is
// never in an earlier block, and the search does not grow with the chain.
func (c *Chain) findAnchor(ctx context.Context, gateway common.Address, size, from uint64) (*proof.Anchor, error) {
	q := ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from),
		Addresses: []common.Address{c.contract},
		Topics: [][]common.Hash{
			{c.abi.GetABI().Events["Anchored"].ID},
			{common.BytesToHash(gateway.Bytes())},
			{common.BigToHash(new(big.Int).SetUint64(size))},
		},
	}
	logs, err := c.backend.FilterLogs(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("ledger: filtering Anchored logs at size %d: %w", size, err)
	}
	for i := range logs {
		if logs[i].Removed {
			continue
		}
		ev, err := c.abi.UnpackAnchoredEvent(&logs[i])
		if err != nil {
			continue
		}
		return &proof.Anchor{Size: ev.Size, Root: ev.Root, ChainID: c.chainID.Uint64(), Contract: c.contract, Gateway: ev.Gateway,
			TxHash: logs[i].TxHash, Block: logs[i].BlockNumber, BlockHash: logs[i].BlockHash}, nil
	}
	return nil, nil
}

// inflight is the anchoring transaction sent but not yet confirmed. It is
// journaled before sending so that a restart resends the same bytes instead
// of a second transaction.
type inflight struct {
	Size  uint64     `json:"size"`
	Root  proof.Hash `json:"root"`
	Nonce uint64     `json:"nonce"`
	Raw   []byte     `json:"raw"`
	Hash  common.Hash
}

// anchorer anchors the latest checkpoint whenever one is made, retrying
// with backoff while the chain is down.
func (l *Ledger) anchorer(ctx context.Context) {
	defer l.wg.Done()
	backoff := 500 * time.Millisecond
	for {
		err := l.anchorLatest(ctx)
		l.mu.Lock()
		l.chainErr = err
		l.mu.Unlock()
		// Checkpoints kick us; between them the round still runs every
		// recheckEvery, so that an anchor a reorg took away is noticed
		// (and its receipts go back to pending) within seconds, not at
		// the next checkpoint.
		wait := recheckEvery
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("anchoring failed; journaling continues and the backlog is anchored when the chain returns", "err", err, "retry_in", backoff)
			wait = backoff
			backoff = min(backoff*2, 10*time.Second)
		} else {
			backoff = 500 * time.Millisecond
			// Space anchors out; kicks meanwhile wait in anKick.
			if !pause(ctx, l.cfg.AnchorInterval, nil) {
				return
			}
		}
		if !pause(ctx, wait, l.anKick) {
			return
		}
	}
}

// pause waits d, or until kick fires; false if ctx ended first.
func pause(ctx context.Context, d time.Duration, kick <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-kick:
	case <-t.C:
	}
	return true
}

// anchorLatest anchors the newest checkpoint, if not yet anchored. Older
// unanchored checkpoints are skipped: the newest covers their entries, and
// consistency proofs link them.
func (l *Ledger) anchorLatest(ctx context.Context) error {
	if err := l.recheckAnchors(ctx); err != nil {
		return err
	}
	cp, done := l.anchorTarget()
	if cp.Size == 0 || cp.Size <= done {
		return nil
	}
	if err := l.cfg.Chain.checkChain(ctx); err != nil {
		return err
	}
	if anchored, err := l.adoptChainAnchor(ctx, cp, done); err != nil || anchored {
		return err
	}
	tx, err := l.anchorTx(ctx, cp)
	if err != nil {
		return err
	}
	return l.sendAnchor(ctx, cp, tx)
}

// recheckDepth is how many of the newest anchors each round re-checks.
const recheckDepth = 4

// recheckEvery is the longest an idle anchorer waits before re-checking
// its newest anchors: at most recheckDepth header reads.
const recheckEvery = 3 * time.Second

// recheckAnchors makes sure the newest anchors still sit in canonical
// blocks, so that a receipt never names a block a reorg took away. An
// anchor whose transaction was mined again in another block is moved
// there (once that block is deep enough); one that is gone is forgotten,
// and the checkpoint is anchored again by this round.
func (l *Ledger) recheckAnchors(ctx context.Context) error {
	c := l.cfg.Chain
	l.mu.Lock()
	var recent []proof.Anchor
	// A reorg may put an anchor of the window back lower than it was, but
	// not below the anchor before the window (older than recheckDepth).
	var before uint64
	first := max(0, len(l.anchorSizes)-recheckDepth)
	if first > 0 {
		before = l.anchors[l.anchorSizes[first-1]].Block
	}
	for i := first; i < len(l.anchorSizes); i++ {
		recent = append(recent, *l.anchors[l.anchorSizes[i]])
	}
	l.mu.Unlock()
	for _, a := range recent {
		h, err := c.backend.HeaderByNumber(ctx, new(big.Int).SetUint64(a.Block))
		if err == nil && h.Hash() == a.BlockHash {
			continue
		}
		if err != nil && !errors.Is(err, ethereum.NotFound) {
			return fmt.Errorf("ledger: re-checking the anchor of size %d: %w", a.Size, err)
		}
		moved, err := c.findAnchor(ctx, c.gateway, a.Size, before)
		if err != nil {
			return err
		}
		if moved != nil && moved.Root == a.Root {
			if err := l.waitConfirmations(ctx, moved.Block); err != nil {
				return err
			}
			l.log.Warn("anchor moved to another block by a reorg", "size", a.Size, "old_block", a.Block, "block", moved.Block, "tx", moved.TxHash)
			if err := l.setAnchor(moved); err != nil {
				return err
			}
			continue
		}
		l.log.Warn("anchor reorged out of the chain; anchoring the checkpoint again", "size", a.Size, "block", a.Block, "tx", a.TxHash)
		if err := l.dropAnchor(a.Size); err != nil {
			return err
		}
	}
	return nil
}

// lastAnchorBlock is the block of the newest recorded anchor, 0 if none.
func (l *Ledger) lastAnchorBlock() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.anchorSizes); n > 0 {
		return l.anchors[l.anchorSizes[n-1]].Block
	}
	return 0
}

// setAnchor journals a in place of the anchor recorded for its size.
func (l *Ledger) setAnchor(a *proof.Anchor) error {
	if err := l.j.putJSON(bucketAnchors, u64key(a.Size), a); err != nil {
		return fmt.Errorf("ledger: journaling anchor of size %d: %w", a.Size, err)
	}
	l.mu.Lock()
	l.anchors[a.Size] = a
	l.mu.Unlock()
	return nil
}

// dropAnchor forgets the anchor of size, in the journal and in memory.
func (l *Ledger) dropAnchor(size uint64) error {
	if err := l.j.deleteKey(bucketAnchors, u64key(size)); err != nil {
		return fmt.Errorf("ledger: dropping the reorged anchor of size %d: %w", size, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.anchors, size)
	l.anchorSizes = slices.DeleteFunc(l.anchorSizes, func(s uint64) bool { return s == size })
	return nil
}

// anchorTarget is the checkpoint to anchor (the newest, or the newest
// witnessed one: cosign.go) and the newest anchored size.
func (l *Ledger) anchorTarget() (cp proof.Checkpoint, done uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.checkpoints); n > 0 {
		cp = l.checkpoints[n-1]
	}
	if n := len(l.anchorSizes); n > 0 {
		done = l.anchorSizes[n-1]
	}
	return l.preferCosigned(cp, done), done
}

// adoptChainAnchor records an anchor on chain newer than done, and reports
// whether it already covers cp. Ask the chain, not our memory, what is
// already anchored: a crash between sending and recording must not anchor
// the same checkpoint twice.
func (l *Ledger) adoptChainAnchor(ctx context.Context, cp proof.Checkpoint, done uint64) (bool, error) {
	onChain, err := l.cfg.Chain.LatestSize(ctx)
	if err != nil {
		return false, fmt.Errorf("ledger: reading latest anchored size: %w", err)
	}
	if onChain <= done {
		return false, nil
	}
	if err := l.adoptAnchor(ctx, onChain); err != nil {
		return false, err
	}
	return onChain >= cp.Size, nil
}

// anchorTx is the transaction that anchors cp: the journaled in-flight one
// when it is for cp and its nonce is still unused, else a new one, which is
// journaled before it is sent.
func (l *Ledger) anchorTx(ctx context.Context, cp proof.Checkpoint) (*types.Transaction, error) {
	c := l.cfg.Chain
	var inf inflight
	have, err := l.j.getJSON(bucketMeta, metaInflight, &inf)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading in-flight anchor tx: %w", err)
	}
	confirmedNonce, err := c.backend.NonceAt(ctx, c.gateway, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: gateway nonce: %w", err)
	}
	if have && inf.Nonce >= confirmedNonce && inf.Size == cp.Size {
		// Same checkpoint, nonce still unused: resend the very same bytes.
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(inf.Raw); err != nil {
			return nil, fmt.Errorf("ledger: decoding in-flight anchor tx: %w", err)
		}
		return tx, nil
	}
	nonce := confirmedNonce
	var floor *types.Transaction
	if have && inf.Nonce >= confirmedNonce {
		// A newer checkpoint replaces the pending tx at the same nonce.
		nonce = inf.Nonce
		floor = new(types.Transaction)
		if err := floor.UnmarshalBinary(inf.Raw); err != nil {
			floor = nil
		}
	}
	tx, err := l.buildAnchorTx(ctx, cp, nonce, floor)
	if err != nil {
		return nil, err
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("ledger: encoding anchor tx: %w", err)
	}
	inf = inflight{Size: cp.Size, Root: cp.Root, Nonce: nonce, Raw: raw, Hash: tx.Hash()}
	if err := l.j.putJSON(bucketMeta, metaInflight, &inf); err != nil {
		return nil, fmt.Errorf("ledger: journaling in-flight anchor tx: %w", err)
	}
	return tx, nil
}

// sendAnchor sends the anchor tx for cp, waits for its receipt and records
// the anchor.
func (l *Ledger) sendAnchor(ctx context.Context, cp proof.Checkpoint, tx *types.Transaction) error {
	if err := l.cfg.Chain.backend.SendTransaction(ctx, tx); err != nil && !alreadyKnown(err) {
		return fmt.Errorf("ledger: sending anchor tx for size %d: %w", cp.Size, err)
	}
	l.log.Debug("anchor tx sent", "size", cp.Size, "tx", tx.Hash(), "nonce", tx.Nonce())
	rcpt, err := l.waitReceipt(ctx, tx.Hash())
	if err != nil {
		return err
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		// Reverted: most likely the size was anchored already. Re-read the
		// chain on the next round rather than retrying blindly.
		_ = l.j.deleteKey(bucketMeta, metaInflight)
		return fmt.Errorf("ledger: anchor tx %s for size %d reverted in block %v", tx.Hash(), cp.Size, rcpt.BlockNumber)
	}
	if err := l.adoptAnchor(ctx, cp.Size); err != nil {
		return err
	}
	l.log.Debug("checkpoint anchored", "size", cp.Size, "tx", tx.Hash(), "block", rcpt.BlockNumber, "gas", rcpt.GasUsed)
	return nil
}

func alreadyKnown(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "already known") || strings.Contains(s, "known transaction")
}

// adoptAnchor records the on-chain anchor of size (found by its event),
// checking that it anchors our own checkpoint's root.
func (l *Ledger) adoptAnchor(ctx context.Context, size uint64) error {
	c := l.cfg.Chain
	a, err := c.findAnchor(ctx, c.gateway, size, l.lastAnchorBlock())
	if err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("ledger: contract says size %d is anchored but no Anchored event was found (node pruned its logs?)", size)
	}
	if err := l.waitConfirmations(ctx, a.Block); err != nil {
		return err
	}
	l.mu.Lock()
	cp, ok := l.checkpointAt(size)
	l.mu.Unlock()
	if !ok || cp.Root != a.Root {
		// Another process anchors with our gateway key: that is a
		// configuration error an operator must see.
		return fmt.Errorf("ledger: gateway %s anchored size %d with root %s, which is not a checkpoint of this log; is the gateway key shared?", c.gateway, size, a.Root)
	}
	if err := l.j.putJSON(bucketAnchors, u64key(size), a); err != nil {
		return fmt.Errorf("ledger: journaling anchor of size %d: %w", size, err)
	}
	_ = l.j.deleteKey(bucketMeta, metaInflight)
	l.mu.Lock()
	if _, dup := l.anchors[size]; !dup {
		l.anchors[size] = a
		l.anchorSizes = append(l.anchorSizes, size)
	}
	l.mu.Unlock()
	return nil
}

func (l *Ledger) buildAnchorTx(ctx context.Context, cp proof.Checkpoint, nonce uint64, floor *types.Transaction) (*types.Transaction, error) {
	c := l.cfg.Chain
	data := c.abi.PackAnchor(cp.Size, cp.Root, proof.LogHash(cp.Log))
	gas, err := c.backend.EstimateGas(ctx, ethereum.CallMsg{From: c.gateway, To: &c.contract, Data: data})
	if err != nil {
		return nil, fmt.Errorf("ledger: estimating anchor gas for size %d (is %s registered as the gateway of box %q? see wardgate chain register): %w", cp.Size, c.gateway, cp.Log, err)
	}
	gas = gas + gas/4 // headroom: state can change between estimate and inclusion
	head, err := c.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading head: %w", err)
	}
	tip, err := c.backend.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: suggesting gas tip: %w", err)
	}
	base := head.BaseFee
	if base == nil {
		base = new(big.Int)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	if floor != nil {
		// Replacing a pending tx needs both fees raised by at least 10%.
		bump := func(v *big.Int) *big.Int {
			return new(big.Int).Add(new(big.Int).Div(new(big.Int).Mul(v, big.NewInt(115)), big.NewInt(100)), big.NewInt(1))
		}
		if t := bump(floor.GasTipCap()); t.Cmp(tip) > 0 {
			tip = t
		}
		if f := bump(floor.GasFeeCap()); f.Cmp(feeCap) > 0 {
			feeCap = f
		}
		if feeCap.Cmp(tip) < 0 {
			feeCap = new(big.Int).Set(tip)
		}
	}
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: c.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &c.contract, Data: data})
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(c.chainID), c.key)
	if err != nil {
		return nil, fmt.Errorf("ledger: signing anchor tx: %w", err)
	}
	return signed, nil
}

func (l *Ledger) waitReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	c := l.cfg.Chain
	wctx, cancel := context.WithTimeout(ctx, c.mineTimeout)
	defer cancel()
	start, _ := c.backend.BlockNumber(wctx) // for notMined; 0 if unknown
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		r, err := c.backend.TransactionReceipt(wctx, h)
		if err == nil && r != nil {
			return r, l.waitConfirmations(wctx, r.BlockNumber.Uint64())
		}
		if err != nil && !errors.Is(err, ethereum.NotFound) && wctx.Err() == nil {
			return nil, fmt.Errorf("ledger: receipt of anchor tx %s: %w", h, err)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, fmt.Errorf("ledger: waiting for anchor tx %s to be mined: %w", h, ctx.Err())
			}
			return nil, c.notMined(ctx, h, start)
		case <-t.C:
		}
	}
}

// notMined is the error of an anchor transaction not mined within
// mineTimeout of when the chain's head was block start. It tells apart
// the two causes an operator must act on differently: a chain that
// stopped sealing (a Clique network with too few signers up) and one that
// seals but not this transaction.
func (c *Chain) notMined(ctx context.Context, h common.Hash, start uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	head, err := c.backend.BlockNumber(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("ledger: anchor tx %s not mined within %s, and the chain's head cannot be read: %w", h, c.mineTimeout, err)
	case head <= start:
		return fmt.Errorf("ledger: anchor tx %s not mined within %s: %w (head still block %d; check that enough validators are up)", h, c.mineTimeout, ErrChainStalled, head)
	default:
		return fmt.Errorf("ledger: anchor tx %s not mined within %s although the chain sealed %d blocks meanwhile: the node may have dropped it (check its txpool and the gateway account's balance)", h, c.mineTimeout, head-start)
	}
}

// ErrChainStalled is a chain that sealed no block while an anchor waited.
var ErrChainStalled = errors.New("the chain has stopped sealing")

func (l *Ledger) waitConfirmations(ctx context.Context, block uint64) error {
	c := l.cfg.Chain
	if c.confirmations <= 1 {
		return nil
	}
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		head, err := c.backend.BlockNumber(ctx)
		if err != nil {
			return fmt.Errorf("ledger: block number: %w", err)
		}
		if head+1 >= block+c.confirmations {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ledger: waiting for %d confirmations of block %d: %w", c.confirmations, block, ctx.Err())
		case <-t.C:
		}
	}
}
