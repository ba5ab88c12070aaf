// Package devchain runs wardgate's embedded dev chain: an in-process
// go-ethereum node on the pinned dev genesis with a simulated beacon,
// persisted in the box's state dir and served over loopback JSON-RPC so that
// other local boxes can share it. It links the whole go-ethereum node, so
// only the daemon and tests import it; the CLI never does.
package devchain

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/core/rawdb"
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

	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
)

// Config is the "embedded" chain mode.
type Config struct {
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
	Poll          time.Duration // receipt polling (default: the ledger's)
	Logger        *slog.Logger
	// Box and RecordKey are what the box's gateway account is bound to on
	// the anchor contract: its log name and the key that signs it.
	Box       string
	RecordKey ed25519.PublicKey
}

// Start runs (or joins) the loopback dev chain, loads or creates the
// box's gateway key, and makes the chain ready for it.
func Start(ctx context.Context, cfg Config) (*ledger.Chain, error) {
	if cfg.Box == "" || len(cfg.RecordKey) != ed25519.PublicKeySize {
		return nil, errors.New("devchain: Config.Box and Config.RecordKey are required: the gateway account is bound to them on the anchor contract")
	}
	if cfg.Port == 0 {
		cfg.Port = ledger.DevChainPort
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
		cfg.Host = ledger.DevChainHost
	}
	url := "http://" + net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var closers []func() error
	var backend proof.Backend
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
	contract, err := ledger.SetupDev(ctx, backend, ledger.DevGateway{Addr: gw, Box: cfg.Box, RecordKey: cfg.RecordKey})
	if err != nil {
		for _, c := range closers {
			c()
		}
		return nil, err
	}
	c, err := ledger.NewChain(backend, ledger.ChainOptions{ChainID: ledger.DevChainID, Contract: contract, Key: key, Confirmations: cfg.Confirmations, Poll: cfg.Poll})
	if err != nil {
		return nil, err
	}
	for _, f := range closers {
		c.OnClose(f)
	}
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
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("devchain: asking %s for its chain id: %w", url, err)
	}
	if id.Uint64() != ledger.DevChainID {
		cl.Close()
		return nil, fmt.Errorf("devchain: %s is not the wardgate dev chain (chain id %v, want %d)", url, id, ledger.DevChainID)
	}
	return cl, nil
}

func startDevNode(cfg Config) (*node.Node, error) {
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
		return nil, fmt.Errorf("devchain: embedded chain node in %s: %w", nc.DataDir, err)
	}
	ec := ethconfig.Defaults
	ec.Genesis = ledger.DevGenesis()
	ec.NetworkId = ledger.DevChainID
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
	ec.Miner.PendingFeeRecipient = crypto.PubkeyToAddress(ledger.DevAdminKey().PublicKey)
	ec.Miner.GasPrice = big.NewInt(1)
	backend, err := eth.New(stack, &ec)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("devchain: embedded chain: %w", err)
	}
	fs := filters.NewFilterSystem(backend.APIBackend, filters.Config{})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	beacon, err := catalyst.NewSimulatedBeacon(uint64(cfg.Period/time.Second), ec.Miner.PendingFeeRecipient, backend)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("devchain: embedded chain beacon: %w", err)
	}
	catalyst.RegisterSimulatedBeaconAPIs(stack, beacon)
	stack.RegisterLifecycle(beacon)
	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("devchain: starting embedded chain (is port %d taken?): %w", cfg.Port, err)
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
			return nil, fmt.Errorf("devchain: decrypting gateway key %s (check the passphrase): %w", path, err)
		}
		return k.PrivateKey, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("devchain: reading gateway key: %w", err)
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
		return nil, fmt.Errorf("devchain: encrypting gateway key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, js, 0o600); err != nil {
		return nil, fmt.Errorf("devchain: writing gateway key: %w", err)
	}
	return pk, nil
}
