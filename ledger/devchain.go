package ledger

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/google/uuid"

	"github.com/wardgate/wardgate/ledger/contracts"
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
func SetupDev(ctx context.Context, b Backend, gateways ...common.Address) (common.Address, error) {
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
func waitMined(ctx context.Context, b Backend, h common.Hash) (*types.Receipt, error) {
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

// EmbeddedConfig is the "embedded" chain mode.
type EmbeddedConfig struct {
	StateDir string // the chain lives in StateDir/chain, the gateway key in StateDir/gateway-key.json
	// Port is the loopback JSON-RPC port (default 8545). If a wardgate dev
	// chain already answers there, it is shared instead of starting another.
	Port int
	// Host is the address JSON-RPC binds to (default 127.0.0.1). Boxes in
	// separate network namespaces share one dev chain on an underlay address.
	Host string
	// Period is the block period; 0 seals a block as soon as a tx arrives.
	Period        time.Duration
	Passphrase    string // encrypts the gateway key file
	Confirmations uint64
	Logger        *slog.Logger
}

// StartEmbedded runs (or joins) the loopback dev chain, loads or creates the
// box's gateway key, and makes the chain ready for it.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Chain, error) {
	if cfg.Port == 0 {
		cfg.Port = 8545
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("component", "ledger-chain")
	key, err := loadOrCreateGatewayKey(filepath.Join(cfg.StateDir, "gateway-key.json"), cfg.Passphrase)
	if err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var closers []func() error
	var backend Backend
	if cl, err := dialDevChain(ctx, url); err == nil {
		log.Info("joining the dev chain already served", "url", url)
		backend = cl
		closers = append(closers, func() error { cl.Close(); return nil })
	} else {
		stack, err := startDevNode(cfg)
		if err != nil {
			return nil, err
		}
		log.Info("embedded dev chain started", "url", url, "datadir", filepath.Join(cfg.StateDir, "chain"))
		cl := ethclient.NewClient(stack.Attach())
		backend = cl
		closers = append(closers, stack.Close)
	}
	gw := crypto.PubkeyToAddress(key.PublicKey)
	contract, err := SetupDev(ctx, backend, gw)
	if err != nil {
		for _, c := range closers {
			c()
		}
		return nil, err
	}
	c, err := NewChain(backend, ChainOptions{ChainID: DevChainID, Contract: contract, Key: key, Confirmations: cfg.Confirmations})
	if err != nil {
		return nil, err
	}
	c.closers = closers
	return c, nil
}

// dialDevChain connects to url if it serves the wardgate dev chain.
func dialDevChain(ctx context.Context, url string) (*ethclient.Client, error) {
	host := url[len("http://"):]
	conn, err := net.DialTimeout("tcp", host, 300*time.Millisecond)
	if err != nil {
		return nil, err
	}
	conn.Close()
	cl, err := ethclient.DialContext(ctx, url)
	if err != nil {
		return nil, err
	}
	id, err := cl.ChainID(ctx)
	if err != nil || id.Uint64() != DevChainID {
		cl.Close()
		return nil, fmt.Errorf("ledger: %s is not the wardgate dev chain (chain id %v, err %v)", url, id, err)
	}
	return cl, nil
}

func startDevNode(cfg EmbeddedConfig) (*node.Node, error) {
	nc := node.DefaultConfig
	nc.Name = "wardgate-dev"
	nc.DataDir = filepath.Join(cfg.StateDir, "chain")
	// LevelDB hands every write to the kernel before returning; Pebble
	// buffers its log in the process, so a kill -9 of the box serving the
	// chain lost the newest blocks, and the anchors receipts point at.
	nc.DBEngine = "leveldb"
	nc.HTTPHost = cfg.Host
	nc.HTTPPort = cfg.Port
	nc.HTTPModules = []string{"eth", "net", "web3"}
	nc.WSHost = ""
	nc.AuthPort = 0
	nc.IPCPath = ""
	nc.P2P = p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""}
	stack, err := node.New(&nc)
	if err != nil {
		return nil, fmt.Errorf("ledger: embedded chain node in %s: %w", nc.DataDir, err)
	}
	ec := ethconfig.Defaults
	ec.Genesis = DevGenesis()
	ec.NetworkId = DevChainID
	ec.SyncMode = ethconfig.FullSync
	// Archive mode on the hash scheme writes every block's state as it is
	// sealed. The default path scheme keeps recent state in memory until a
	// clean shutdown, so a kill -9 of the box serving the chain would rewind
	// it and drop anchors that receipts already point at.
	ec.StateScheme = rawdb.HashScheme
	ec.NoPruning = true
	// No log search index: rendering it took a tenth of the serving box's
	// CPU under record load, in bursts that delayed the relay. The box
	// reads anchors by block hash, and the rare range search (an anchor
	// sent but not journaled before a crash) scans blocks unindexed.
	ec.LogNoHistory = true
	ec.Miner.PendingFeeRecipient = crypto.PubkeyToAddress(DevAdminKey().PublicKey)
	ec.Miner.GasPrice = big.NewInt(1)
	backend, err := eth.New(stack, &ec)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("ledger: embedded chain: %w", err)
	}
	fs := filters.NewFilterSystem(backend.APIBackend, filters.Config{})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	beacon, err := catalyst.NewSimulatedBeacon(uint64(cfg.Period/time.Second), ec.Miner.PendingFeeRecipient, backend)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("ledger: embedded chain beacon: %w", err)
	}
	catalyst.RegisterSimulatedBeaconAPIs(stack, beacon)
	stack.RegisterLifecycle(beacon)
	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("ledger: starting embedded chain (is port %d taken?): %w", cfg.Port, err)
	}
	return stack, nil
}

// loadOrCreateGatewayKey keeps the gateway account in an encrypted
// go-ethereum keystore file.
func loadOrCreateGatewayKey(path, pass string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := keystore.DecryptKey(b, pass)
		if err != nil {
			return nil, fmt.Errorf("ledger: decrypting gateway key %s (check the passphrase): %w", path, err)
		}
		return k.PrivateKey, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ledger: reading gateway key: %w", err)
	}
	pk, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	k := &keystore.Key{Id: id, Address: crypto.PubkeyToAddress(pk.PublicKey), PrivateKey: pk}
	js, err := keystore.EncryptKey(k, pass, keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		return nil, fmt.Errorf("ledger: encrypting gateway key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, js, 0o600); err != nil {
		return nil, fmt.Errorf("ledger: writing gateway key: %w", err)
	}
	return pk, nil
}
