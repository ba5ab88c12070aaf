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

// DevChainHost and DevChainPort are where the embedded dev chain serves
// JSON-RPC by default (devchain.Config, the config's chain.embedded). They
// live here, not in devchain, so that the config can name them without
// linking a go-ethereum node.
const (
	DevChainHost = "127.0.0.1"
	DevChainPort = 8545
)

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
	chainID, err := b.ChainID(ctx)
	if err != nil {
		return common.Address{}, fmt.Errorf("ledger: dev setup: chain id: %w", err)
	}
	admin := DevAdminKey()
	ad := &devAdmin{b: b, chainID: chainID, key: admin, addr: crypto.PubkeyToAddress(admin.PublicKey)}
	addr := DevContractAddress()
	code, err := b.CodeAt(ctx, addr, nil)
	if err != nil {
		return addr, fmt.Errorf("ledger: dev setup: reading contract code: %w", err)
	}
	abi := contracts.NewAnchor()
	if len(code) == 0 {
		if err := ad.deploy(ctx, abi, addr); err != nil {
			return addr, err
		}
	}
	for _, g := range gateways {
		if err := ad.setupGateway(ctx, abi, addr, g); err != nil {
			return addr, err
		}
	}
	return addr, nil
}

// devAdmin sends the dev chain's setup transactions as its admin.
type devAdmin struct {
	b       proof.Backend
	chainID *big.Int
	key     *ecdsa.PrivateKey
	addr    common.Address
}

// deploy deploys the anchor contract, expected at addr, from a fresh admin.
func (ad *devAdmin) deploy(ctx context.Context, abi *contracts.Anchor, addr common.Address) error {
	nonce, err := ad.b.NonceAt(ctx, ad.addr, nil)
	if err != nil {
		return fmt.Errorf("ledger: dev setup: admin nonce: %w", err)
	}
	if nonce != 0 {
		return fmt.Errorf("ledger: dev setup: admin nonce is %d and no contract at %s; this is not a wardgate dev chain", nonce, addr)
	}
	data := append(common.FromHex(contracts.AnchorMetaData.Bin), abi.PackConstructor(ad.addr)...)
	if err := ad.send(ctx, nil, nil, data); err != nil {
		return fmt.Errorf("ledger: dev setup: deploying anchor contract: %w", err)
	}
	return nil
}

// setupGateway registers gateway g on the contract at addr, unless it is
// already, and funds it with 100 ETH when it holds less than one.
func (ad *devAdmin) setupGateway(ctx context.Context, abi *contracts.Anchor, addr, g common.Address) error {
	ok, err := bind.Call(abi.Instance(ad.b, addr), &bind.CallOpts{Context: ctx}, abi.PackIsGateway(g), abi.UnpackIsGateway)
	if err != nil {
		return fmt.Errorf("ledger: dev setup: isGateway(%s): %w", g, err)
	}
	if !ok {
		if err := ad.send(ctx, &addr, nil, abi.PackAddGateway(g)); err != nil {
			return fmt.Errorf("ledger: dev setup: registering gateway %s: %w", g, err)
		}
	}
	bal, err := ad.b.BalanceAt(ctx, g, nil)
	if err != nil {
		return fmt.Errorf("ledger: dev setup: balance of %s: %w", g, err)
	}
	eth := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	if bal.Cmp(eth) < 0 {
		if err := ad.send(ctx, &g, new(big.Int).Mul(eth, big.NewInt(100)), nil); err != nil {
			return fmt.Errorf("ledger: dev setup: funding gateway %s: %w", g, err)
		}
	}
	return nil
}

// send sends a transaction and waits for it to succeed. Boxes joining a
// shared dev chain at once all send as the admin: a transaction that lost
// the nonce race is sent again with a fresh nonce.
func (ad *devAdmin) send(ctx context.Context, to *common.Address, value *big.Int, data []byte) error {
	for try := 0; ; try++ {
		err := ad.sendOnce(ctx, to, value, data)
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

// sendOnce signs a transaction at the admin's pending nonce, sends it and
// waits until it is mined.
func (ad *devAdmin) sendOnce(ctx context.Context, to *common.Address, value *big.Int, data []byte) error {
	nonce, err := ad.b.PendingNonceAt(ctx, ad.addr)
	if err != nil {
		return err
	}
	head, err := ad.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return err
	}
	tip := big.NewInt(1_000_000_000)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: ad.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 1_500_000, To: to, Value: value, Data: data})
	tx, err = types.SignTx(tx, types.LatestSignerForChainID(ad.chainID), ad.key)
	if err != nil {
		return err
	}
	if err := ad.b.SendTransaction(ctx, tx); err != nil {
		return err
	}
	r, err := waitMined(ctx, ad.b, tx.Hash())
	if err != nil {
		return err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("tx %s reverted", tx.Hash())
	}
	return nil
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
