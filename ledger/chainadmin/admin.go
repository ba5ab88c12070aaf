// Package chainadmin sends the anchor contract's administrative transactions
// (deploy, register, rotate, revoke) and reads gateway bindings. It needs
// only an RPC client and the contract bindings, so `wardgate chain` links
// neither the journal nor go-ethereum's core.
package chainadmin

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/wardgate/wardgate/ledger/contracts"
	"github.com/wardgate/wardgate/ledger/proof"
)

// Sender sends transactions from one account and waits for each to be
// mined: the consortium admin's (register, rotate, revoke) and the dev
// chain's setup.
type Sender struct {
	b       proof.Backend
	chainID *big.Int
	key     *ecdsa.PrivateKey
	addr    common.Address
}

// NewSenderOnChain is NewSender for a caller that already knows the chain id.
func NewSenderOnChain(b proof.Backend, chainID *big.Int, key *ecdsa.PrivateKey) *Sender {
	return &Sender{b: b, chainID: chainID, key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

// NewSender is an account on the chain behind b.
func NewSender(ctx context.Context, b proof.Backend, key *ecdsa.PrivateKey) (*Sender, error) {
	id, err := b.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chainadmin: chain id: %w", err)
	}
	return &Sender{b: b, chainID: id, key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}, nil
}

// Address is the sending account.
func (ad *Sender) Address() common.Address { return ad.addr }

// Send sends a transaction and waits for it to succeed. Boxes joining a
// shared dev chain at once all send as the admin: a transaction that lost
// the nonce race is sent again with a fresh nonce.
func (ad *Sender) Send(ctx context.Context, to *common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	for try := 0; ; try++ {
		r, err := ad.sendOnce(ctx, to, value, data)
		if err == nil || try == 30 || !nonceRace(err) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(50+rand.IntN(200)) * time.Millisecond):
		}
	}
}

// sendOnce signs a transaction at the pending nonce, sends it and waits
// until it is mined. A chain without a base fee (Besu with free gas) gets
// the tip as its fee cap.
func (ad *Sender) sendOnce(ctx context.Context, to *common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	nonce, err := ad.b.PendingNonceAt(ctx, ad.addr)
	if err != nil {
		return nil, err
	}
	head, err := ad.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, err
	}
	tip := big.NewInt(1_000_000_000)
	feeCap := new(big.Int).Set(tip)
	if head.BaseFee != nil {
		feeCap.Add(feeCap, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	}
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: ad.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 1_500_000, To: to, Value: value, Data: data})
	tx, err = types.SignTx(tx, types.LatestSignerForChainID(ad.chainID), ad.key)
	if err != nil {
		return nil, err
	}
	if err := ad.b.SendTransaction(ctx, tx); err != nil {
		return nil, err
	}
	r, err := waitMined(ctx, ad.b, tx.Hash())
	if err != nil {
		return nil, err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return r, fmt.Errorf("tx %s reverted", tx.Hash())
	}
	return r, nil
}

// Deploy deploys the anchor contract with the sender as its admin.
func (ad *Sender) Deploy(ctx context.Context) (common.Address, error) {
	data := append(common.FromHex(contracts.AnchorMetaData.Bin), contracts.NewAnchor().PackConstructor(ad.addr)...)
	r, err := ad.Send(ctx, nil, nil, data)
	if err != nil {
		return common.Address{}, fmt.Errorf("chainadmin: deploying anchor contract: %w", err)
	}
	return r.ContractAddress, nil
}

// Register binds gateway to box and its record key rk (admin only).
func (ad *Sender) Register(ctx context.Context, contract, gateway common.Address, box string, rk ed25519.PublicKey) (*types.Receipt, error) {
	r, err := ad.Send(ctx, &contract, nil, contracts.NewAnchor().PackRegister(gateway, box, proof.KeyHash(rk)))
	if err != nil {
		return nil, fmt.Errorf("chainadmin: registering gateway %s for box %q: %w", gateway, box, err)
	}
	return r, nil
}

// Rotate replaces gateway's record key with rk from the mined block on
// (admin only); the old key stays valid for the blocks before.
func (ad *Sender) Rotate(ctx context.Context, contract, gateway common.Address, rk ed25519.PublicKey) (*types.Receipt, error) {
	r, err := ad.Send(ctx, &contract, nil, contracts.NewAnchor().PackRotateKey(gateway, proof.KeyHash(rk)))
	if err != nil {
		return nil, fmt.Errorf("chainadmin: rotating the record key of gateway %s: %w", gateway, err)
	}
	return r, nil
}

// Revoke revokes gateway (admin only): verifiers stop trusting its anchors.
func (ad *Sender) Revoke(ctx context.Context, contract, gateway common.Address) (*types.Receipt, error) {
	r, err := ad.Send(ctx, &contract, nil, contracts.NewAnchor().PackRevoke(gateway))
	if err != nil {
		return nil, fmt.Errorf("chainadmin: revoking gateway %s: %w", gateway, err)
	}
	return r, nil
}

// Bound reports whether gateway is bound to box and record key rk at block.
func Bound(ctx context.Context, b proof.Backend, contract, gateway common.Address, box string, rk ed25519.PublicKey, block uint64) (bool, error) {
	abi := contracts.NewAnchor()
	return bind.Call(abi.Instance(b, contract), &bind.CallOpts{Context: ctx}, abi.PackBound(gateway, proof.LogHash(box), proof.KeyHash(rk), block), abi.UnpackBound)
}

// waitMined polls for a receipt every 50ms: bind.WaitMined polls once a
// second, which made a fresh box's three setup transactions cost 3s of
// start-up on a chain that seals at once.
func waitMined(ctx context.Context, b proof.Backend, h common.Hash) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		// Not found, or "transaction indexing is in progress": ask again.
		r, err := b.TransactionReceipt(ctx, h)
		if err == nil && r != nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for tx %s (last answer: %w): %w", h, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nonceRace reports whether a send failed only because another sender took
// the same nonce.
func nonceRace(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "underpriced") || strings.Contains(m, "nonce too low") || strings.Contains(m, "already known")
}
