package ledger

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/wardgate/wardgate/ledger/chainadmin"
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
// the pinned go-ethereum active from block 0 (the contract targets paris, so
// it also runs on Clique and pre-Shanghai consortium chains),
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

// DevGateway is a box's gateway account on the dev chain, bound to the
// box's name (its log) and record key.
type DevGateway struct {
	Addr      common.Address
	Box       string
	RecordKey ed25519.PublicKey
}

// SetupDev makes a dev chain ready for the given gateways: it deploys the
// anchor contract at DevContractAddress if missing, registers each gateway
// for its box and record key, and funds it. It is idempotent.
func SetupDev(ctx context.Context, b proof.Backend, gateways ...DevGateway) (common.Address, error) {
	chainID, err := b.ChainID(ctx)
	if err != nil {
		return common.Address{}, fmt.Errorf("ledger: dev setup: chain id: %w", err)
	}
	admin := DevAdminKey()
	ad := &devAdmin{Sender: chainadmin.NewSenderOnChain(b, chainID, admin), b: b}
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
	*chainadmin.Sender
	b proof.Backend
}

// send sends a transaction and waits for it to succeed.
func (ad *devAdmin) send(ctx context.Context, to *common.Address, value *big.Int, data []byte) error {
	_, err := ad.Send(ctx, to, value, data)
	return err
}

// deploy deploys the anchor contract, expected at addr, from a fresh admin.
func (ad *devAdmin) deploy(ctx context.Context, abi *contracts.Anchor, addr common.Address) error {
	nonce, err := ad.b.NonceAt(ctx, ad.Address(), nil)
	if err != nil {
		return fmt.Errorf("ledger: dev setup: admin nonce: %w", err)
	}
	if nonce != 0 {
		return fmt.Errorf("ledger: dev setup: admin nonce is %d and no contract at %s; this is not a wardgate dev chain", nonce, addr)
	}
	data := append(common.FromHex(contracts.AnchorMetaData.Bin), abi.PackConstructor(ad.Address())...)
	if err := ad.send(ctx, nil, nil, data); err != nil {
		return fmt.Errorf("ledger: dev setup: deploying anchor contract: %w", err)
	}
	return nil
}

// setupGateway registers gw on the contract at addr for its box and record
// key, unless it is already, and funds it with 100 ETH when it holds less
// than one. A dev box whose record key changed (a new state dir under the
// same gateway key) has its key rotated.
func (ad *devAdmin) setupGateway(ctx context.Context, abi *contracts.Anchor, addr common.Address, gw DevGateway) error {
	g := gw.Addr
	head, err := ad.b.BlockNumber(ctx)
	if err != nil {
		return fmt.Errorf("ledger: dev setup: block number: %w", err)
	}
	call := &bind.CallOpts{Context: ctx}
	inst := abi.Instance(ad.b, addr)
	ok, err := bind.Call(inst, call, abi.PackBound(g, proof.LogHash(gw.Box), proof.KeyHash(gw.RecordKey), head+1), abi.UnpackBound)
	if err != nil {
		return fmt.Errorf("ledger: dev setup: bound(%s): %w", g, err)
	}
	if !ok {
		if err := ad.send(ctx, &addr, nil, abi.PackRegister(g, gw.Box, proof.KeyHash(gw.RecordKey))); err != nil {
			return fmt.Errorf("ledger: dev setup: registering gateway %s for box %q: %w", g, gw.Box, err)
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
