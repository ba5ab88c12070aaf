package ledger

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/wardgate/wardgate/ledger/contracts"
	"github.com/wardgate/wardgate/ledger/proof"
)

// DevChainID is the chain id of wardgate's pinned dev genesis.
const DevChainID = 7741

// DevGasLimit is the block gas limit of the pinned dev genesis.
const DevGasLimit = 30_000_000

// devAdminSeed derives the dev chain's prefunded admin account. It is a
// well-known key, like geth's own dev key: fine for a local dev chain, never
// for a consortium chain.
const devAdminSeed = "wardgate/dev-chain/admin/v1"

// DevAdminKey is the prefunded admin of the dev genesis, which deploys the
// anchor contract and registers local gateways.
func DevAdminKey() *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(devAdminSeed)))
	if err != nil {
		panic(err) // a fixed 32-byte seed below the curve order
	}
	return k
}

// DevGenesis is wardgate's pinned dev genesis: chain id 7741, every fork of
// the pinned go-ethereum active from block 0 (the contract targets cancun),
// a 30M gas limit, a 1 gwei initial base fee, the admin prefunded. Gas figures
// in the benchmarks are measured on this genesis.
func DevGenesis() *core.Genesis {
	admin := crypto.PubkeyToAddress(DevAdminKey().PublicKey)
	g := core.DeveloperGenesisBlock(DevGasLimit, &admin)
	cfg := *g.Config
	cfg.ChainID = big.NewInt(DevChainID)
	g.Config = &cfg
	g.Timestamp = 1767225600 // 2026-01-01T00:00:00Z: a fixed genesis hash
	return g
}

// DevContractAddress is where the dev admin's first transaction deploys the
// anchor contract; every box sharing the dev chain finds it there.
func DevContractAddress() common.Address {
	return crypto.CreateAddress(crypto.PubkeyToAddress(DevAdminKey().PublicKey), 0)
}

// SetupDev makes a dev chain ready for the given gateways: it deploys the
// anchor contract at DevContractAddress if missing, registers each gateway
// and funds it. It is idempotent.
func SetupDev(ctx context.Context, b proof.Backend, gateways ...common.Address) (common.Address, error) {
	admin := DevAdminKey()
	adminAddr := crypto.PubkeyToAddress(admin.PublicKey)
	chainID, err := b.ChainID(ctx)
	if err != nil {
		return common.Address{}, fmt.Errorf("ledger: dev setup: chain id: %w", err)
	}
	addr := DevContractAddress()
	code, err := b.CodeAt(ctx, addr, nil)
	if err != nil {
		return addr, fmt.Errorf("ledger: dev setup: reading contract code: %w", err)
	}
	abi := contracts.NewAnchor()
	sendOnce := func(to *common.Address, value *big.Int, data []byte) error {
		nonce, err := b.PendingNonceAt(ctx, adminAddr)
		if err != nil {
			return err
		}
		head, err := b.HeaderByNumber(ctx, nil)
		if err != nil {
			return err
		}
		tip := big.NewInt(1_000_000_000)
		feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
		tx := types.NewTx(&types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 1_500_000, To: to, Value: value, Data: data})
		tx, err = types.SignTx(tx, types.LatestSignerForChainID(chainID), admin)
		if err != nil {
			return err
		}
		if err := b.SendTransaction(ctx, tx); err != nil {
			return err
		}
		r, err := waitMined(ctx, b, tx.Hash())
		if err != nil {
			return err
		}
		if r.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("tx %s reverted", tx.Hash())
		}
		return nil
	}
	// Boxes joining a shared dev chain at once all send as the admin: a
	// transaction that lost the nonce race is sent again with a fresh nonce.
	send := func(to *common.Address, value *big.Int, data []byte) error {
		for try := 0; ; try++ {
			err := sendOnce(to, value, data)
			if err == nil || try == 30 || !nonceRace(err) {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(50+rand.IntN(200)) * time.Millisecond):
			}
		}
	}
	if len(code) == 0 {
		nonce, err := b.NonceAt(ctx, adminAddr, nil)
		if err != nil {
			return addr, fmt.Errorf("ledger: dev setup: admin nonce: %w", err)
		}
		if nonce != 0 {
			return addr, fmt.Errorf("ledger: dev setup: admin nonce is %d and no contract at %s; this is not a wardgate dev chain", nonce, addr)
		}
		data := append(common.FromHex(contracts.AnchorMetaData.Bin), abi.PackConstructor(adminAddr)...)
		if err := send(nil, nil, data); err != nil {
			return addr, fmt.Errorf("ledger: dev setup: deploying anchor contract: %w", err)
		}
	}
	bound := abi.Instance(b, addr)
	for _, g := range gateways {
		ok, err := bind.Call(bound, &bind.CallOpts{Context: ctx}, abi.PackIsGateway(g), abi.UnpackIsGateway)
		if err != nil {
			return addr, fmt.Errorf("ledger: dev setup: isGateway(%s): %w", g, err)
		}
		if !ok {
			if err := send(&addr, nil, abi.PackAddGateway(g)); err != nil {
				return addr, fmt.Errorf("ledger: dev setup: registering gateway %s: %w", g, err)
			}
		}
		bal, err := b.BalanceAt(ctx, g, nil)
		if err != nil {
			return addr, fmt.Errorf("ledger: dev setup: balance of %s: %w", g, err)
		}
		eth := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
		if bal.Cmp(eth) < 0 {
			if err := send(&g, new(big.Int).Mul(eth, big.NewInt(100)), nil); err != nil {
				return addr, fmt.Errorf("ledger: dev setup: funding gateway %s: %w", g, err)
			}
		}
	}
	return addr, nil
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
			return nil, fmt.Errorf("waiting for tx %s (last answer: %v): %w", h, err, ctx.Err())
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
