package proof

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/ledger/contracts"
)

var (
	// ErrBadProof: the inclusion or consistency proof does not lead to the
	// checkpoint's root (e.g. a flipped proof byte).
	ErrBadProof = errors.New("proof: proof does not match the checkpoint root")
	// ErrDigestMismatch: the record bytes given do not hash to the entry's digest.
	ErrDigestMismatch = errors.New("proof: record does not match the entry digest")
	// ErrWrongKey: the receipt's record key is not the key the caller trusts.
	ErrWrongKey = errors.New("proof: receipt signed by an unexpected record key")
	// ErrPending: online verification of a receipt that is not anchored yet.
	ErrPending = errors.New("proof: receipt is pending (not anchored yet); upgrade it later")
	// ErrWrongChain: the anchor names another chain or contract than the one trusted.
	ErrWrongChain = errors.New("proof: anchor is on an untrusted chain or contract")
	// ErrRootNotOnChain: the chain does not hold this checkpoint's (size, root) at the named tx.
	ErrRootNotOnChain = errors.New("proof: checkpoint root is not anchored on chain")
	// ErrUnregisteredGateway: the root was anchored by an account that is not
	// (or no longer) a registered gateway, or not the box's gateway.
	ErrUnregisteredGateway = errors.New("proof: root anchored by an unregistered gateway")
	// ErrGatewayNotBound: the anchoring gateway is registered, but not bound
	// to the receipt's log name and record key at the anchor block: another
	// box anchored this root.
	ErrGatewayNotBound = errors.New("proof: anchoring gateway is not bound to this log and record key")
	// ErrAnchorReorged: the block the anchor names is no longer on the
	// canonical chain (a reorg took it away); the box anchors the
	// checkpoint again and issues a new receipt. It is a kind of
	// ErrRootNotOnChain.
	ErrAnchorReorged = fmt.Errorf("%w: the anchor block is no longer canonical (reorged out); ask the box for a new receipt", ErrRootNotOnChain)
	// ErrNotDeepEnough: the anchor block has fewer confirmations than required.
	ErrNotDeepEnough = errors.New("proof: anchor is not deep enough")
)

// VerifyOptions says what to trust. Without Backend, Verify is offline.
type VerifyOptions struct {
	// RecordKey is the box's record key as bound by its attestation. If nil,
	// the key in the receipt is used and Result.KeyFromReceipt is set.
	RecordKey ed25519.PublicKey
	// Record, if set, must hash to the entry's digest.
	Record []byte
	// Witnesses are the trusted witnesses' cosignature verifiers
	// (CosignatureVerifier); MinWitnesses of them must have cosigned the
	// receipt's checkpoint. Offline, this proves the box showed its peers
	// this log, not a private fork of it.
	Witnesses    []note.Verifier
	MinWitnesses int

	// Online checks.
	Backend  Backend
	ChainID  uint64
	Contract common.Address
	Gateway  common.Address // if set, the anchor must be by this account
	MinDepth uint64         // blocks, counting the anchor block itself
}

// Result is what a verified receipt proves.
type Result struct {
	Entry          Entry
	Checkpoint     Checkpoint
	KeyFromReceipt bool
	Cosigners      []string // trusted witnesses that cosigned the checkpoint
	Anchored       bool     // checked on chain
	Depth          uint64   // blocks, counting the anchor block
	Gateway        common.Address
}

// Verify checks a receipt. Offline: the entry and checkpoint signatures, the
// inclusion proof and (given the record) the digest. Online (with
// o.Backend): that the checkpoint's root is in an Anchored event of the
// trusted contract, sent by a registered gateway, and how deep it is.
func Verify(ctx context.Context, r *Receipt, o VerifyOptions) (*Result, error) {
	e, err := r.ParsedEntry()
	if err != nil {
		return nil, err
	}
	key := o.RecordKey
	res := &Result{Entry: *e, Checkpoint: r.Checkpoint}
	if key == nil {
		key, res.KeyFromReceipt = ed25519.PublicKey(r.RecordKey), true
	} else if !bytes.Equal(key, r.RecordKey) {
		return nil, fmt.Errorf("%w: receipt names key %x", ErrWrongKey, r.RecordKey)
	}
	if err := e.VerifySignature(key); err != nil {
		return nil, err
	}
	if err := r.Checkpoint.VerifySignature(key); err != nil {
		return nil, err
	}
	if e.Log != r.Checkpoint.Log || e.Seq != r.LeafIndex {
		return nil, fmt.Errorf("%w: entry %d of log %q does not sit at leaf %d of log %q", ErrBadProof, e.Seq, e.Log, r.LeafIndex, r.Checkpoint.Log)
	}
	if o.Record != nil && sha256.Sum256(o.Record) != e.Digest {
		return nil, fmt.Errorf("%w: record hashes to %x, entry says %x", ErrDigestMismatch, sha256.Sum256(o.Record), e.Digest)
	}
	if err := VerifyInclusion(r, HashLeaf(r.Entry)); err != nil {
		return nil, err
	}
	if res.Cosigners, err = checkCosigners(&r.Checkpoint, o); err != nil {
		return nil, err
	}
	if o.Backend == nil {
		return res, nil
	}
	if r.Status != StatusAnchored || r.Anchor == nil {
		return nil, ErrPending
	}
	depth, err := verifyAnchor(ctx, r.Checkpoint, key, r.Anchor, o)
	if err != nil {
		return nil, err
	}
	res.Anchored, res.Depth, res.Gateway = true, depth, r.Anchor.Gateway
	return res, nil
}

// checkCosigners lists the trusted witnesses that cosigned cp and refuses
// fewer than o.MinWitnesses.
func checkCosigners(cp *Checkpoint, o VerifyOptions) ([]string, error) {
	names, err := cp.Cosigners(o.Witnesses)
	if err != nil {
		return nil, err
	}
	if len(names) < o.MinWitnesses {
		return names, fmt.Errorf("%w: checkpoint at size %d has %d of the %d required (cosigned by %q)", ErrTooFewCosignatures, cp.Size, len(names), o.MinWitnesses, names)
	}
	return names, nil
}

func VerifyInclusion(r *Receipt, leaf [32]byte) error {
	p := make([][]byte, len(r.InclusionProof))
	for i := range r.InclusionProof {
		p[i] = r.InclusionProof[i][:]
	}
	if err := merkleproof.VerifyInclusion(rfc6962.DefaultHasher, r.LeafIndex, r.Checkpoint.Size, leaf[:], p, r.Checkpoint.Root[:]); err != nil {
		return fmt.Errorf("%w: leaf %d in size %d: %w", ErrBadProof, r.LeafIndex, r.Checkpoint.Size, err)
	}
	return nil
}

// verifyAnchor checks on chain that a names the checkpoint's (size, root),
// by a registered gateway bound to the checkpoint's log and record key, and
// returns its depth.
func verifyAnchor(ctx context.Context, cp Checkpoint, key ed25519.PublicKey, a *Anchor, o VerifyOptions) (uint64, error) {
	if err := checkAnchorChain(ctx, a, o); err != nil {
		return 0, err
	}
	if a.Size != cp.Size || a.Root != cp.Root {
		return 0, fmt.Errorf("%w: anchor names (size %d, root %s), checkpoint is (size %d, root %s)", ErrRootNotOnChain, a.Size, a.Root, cp.Size, cp.Root)
	}
	abi := contracts.NewAnchor()
	if err := checkAnchorEvent(ctx, abi, cp, a, o); err != nil {
		return 0, err
	}
	if err := checkAnchorGateway(ctx, abi, a, o); err != nil {
		return 0, err
	}
	if err := checkAnchorBinding(ctx, abi, cp.Log, key, a, o); err != nil {
		return 0, err
	}
	head, err := o.Backend.BlockNumber(ctx)
	if err != nil {
		return 0, fmt.Errorf("proof: verify: block number: %w", err)
	}
	depth := uint64(0)
	if head >= a.Block {
		depth = head - a.Block + 1
	}
	if depth < o.MinDepth {
		return depth, fmt.Errorf("%w: %d blocks, want %d", ErrNotDeepEnough, depth, o.MinDepth)
	}
	return depth, nil
}

// checkAnchorChain refuses an anchor on another chain or contract than the
// trusted one, and an endpoint that serves another chain.
func checkAnchorChain(ctx context.Context, a *Anchor, o VerifyOptions) error {
	if a.ChainID != o.ChainID || a.Contract != o.Contract {
		return fmt.Errorf("%w: anchor on chain %d contract %s, trusted chain %d contract %s", ErrWrongChain, a.ChainID, a.Contract, o.ChainID, o.Contract)
	}
	id, err := o.Backend.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("proof: verify: chain id: %w", err)
	}
	if id.Uint64() != o.ChainID {
		return fmt.Errorf("%w: endpoint serves chain %v, trusted chain is %d", ErrWrongChain, id, o.ChainID)
	}
	return nil
}

// checkAnchorEvent checks that the anchor block is canonical and its logs
// hold the Anchored event of a's transaction for cp. Logs are read by
// block hash rather than through the transaction index, which a node
// rebuilds in the background after a restart.
func checkAnchorEvent(ctx context.Context, abi *contracts.Anchor, cp Checkpoint, a *Anchor, o VerifyOptions) error {
	hdr, err := o.Backend.HeaderByNumber(ctx, new(big.Int).SetUint64(a.Block))
	if err != nil {
		return fmt.Errorf("%w: block %d: %w", ErrRootNotOnChain, a.Block, err)
	}
	if hdr.Hash() != a.BlockHash {
		return fmt.Errorf("%w: block %d is %s, the receipt names %s", ErrAnchorReorged, a.Block, hdr.Hash(), a.BlockHash)
	}
	bh := a.BlockHash
	logs, err := o.Backend.FilterLogs(ctx, ethereum.FilterQuery{
		BlockHash: &bh,
		Addresses: []common.Address{o.Contract},
		Topics: [][]common.Hash{
			{abi.GetABI().Events["Anchored"].ID},
			{common.BytesToHash(a.Gateway.Bytes())},
			{common.BigToHash(new(big.Int).SetUint64(cp.Size))},
		},
	})
	if err != nil {
		return fmt.Errorf("proof: verify: logs of block %s: %w", a.BlockHash, err)
	}
	for i := range logs {
		lg := &logs[i]
		if lg.Removed || lg.TxHash != a.TxHash {
			continue
		}
		ev, err := abi.UnpackAnchoredEvent(lg)
		if err != nil {
			continue
		}
		if ev.Gateway == a.Gateway && ev.Size == cp.Size && ev.Root == cp.Root {
			return nil
		}
	}
	return fmt.Errorf("%w: block %d has no Anchored(%s, %d, %s) event from tx %s", ErrRootNotOnChain, a.Block, a.Gateway, cp.Size, cp.Root, a.TxHash)
}

// checkAnchorGateway checks that the anchoring gateway is the box's (when
// given) and registered in the contract. Registration is checked at the
// head: removing a gateway revokes trust in everything it anchored.
func checkAnchorGateway(ctx context.Context, abi *contracts.Anchor, a *Anchor, o VerifyOptions) error {
	if o.Gateway != (common.Address{}) && a.Gateway != o.Gateway {
		return fmt.Errorf("%w: anchored by %s, the box's gateway is %s", ErrUnregisteredGateway, a.Gateway, o.Gateway)
	}
	bound := abi.Instance(o.Backend, o.Contract)
	ok, err := bind.Call(bound, &bind.CallOpts{Context: ctx}, abi.PackIsGateway(a.Gateway), abi.UnpackIsGateway)
	if err != nil {
		return fmt.Errorf("proof: verify: isGateway(%s): %w", a.Gateway, err)
	}
	if !ok {
		return fmt.Errorf("%w: %s is not registered in contract %s", ErrUnregisteredGateway, a.Gateway, o.Contract)
	}
	return nil
}

// checkAnchorBinding checks that the anchoring gateway was bound, at the
// anchor block, to the checkpoint's log name and the record key that signed
// it. Without it any registered gateway could anchor a forged log of another
// box under a fresh key.
func checkAnchorBinding(ctx context.Context, abi *contracts.Anchor, log string, key ed25519.PublicKey, a *Anchor, o VerifyOptions) error {
	bound := abi.Instance(o.Backend, o.Contract)
	ok, err := bind.Call(bound, &bind.CallOpts{Context: ctx}, abi.PackBound(a.Gateway, LogHash(log), KeyHash(key), a.Block), abi.UnpackBound)
	if err != nil {
		return fmt.Errorf("proof: verify: bound(%s): %w", a.Gateway, err)
	}
	if !ok {
		return fmt.Errorf("%w: gateway %s is not bound to log %q with record key %x at block %d", ErrGatewayNotBound, a.Gateway, log, []byte(key), a.Block)
	}
	return nil
}

// VerifyConsistency checks that p.New extends p.Old: both checkpoint
// signatures, the consistency proof and, online, both anchors.
func VerifyConsistency(ctx context.Context, p *ConsistencyProof, o VerifyOptions) error {
	if o.RecordKey == nil {
		return fmt.Errorf("%w: consistency needs the box's record key", ErrWrongKey)
	}
	for _, c := range []*Checkpoint{&p.Old, &p.New} {
		if err := c.VerifySignature(o.RecordKey); err != nil {
			return err
		}
	}
	if p.Old.Log != p.New.Log {
		return fmt.Errorf("%w: checkpoints of logs %q and %q", ErrBadProof, p.Old.Log, p.New.Log)
	}
	hs := make([][]byte, len(p.Proof))
	for i := range p.Proof {
		hs[i] = p.Proof[i][:]
	}
	if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, p.Old.Size, p.New.Size, hs, p.Old.Root[:], p.New.Root[:]); err != nil {
		return fmt.Errorf("%w: consistency %d -> %d: %w", ErrBadProof, p.Old.Size, p.New.Size, err)
	}
	if o.Backend == nil {
		return nil
	}
	for _, x := range []struct {
		c Checkpoint
		a *Anchor
	}{{p.Old, p.OldAnchor}, {p.New, p.NewAnchor}} {
		if x.a == nil {
			return fmt.Errorf("%w: checkpoint at size %d", ErrPending, x.c.Size)
		}
		if _, err := verifyAnchor(ctx, x.c, o.RecordKey, x.a, o); err != nil {
			return err
		}
	}
	return nil
}
