// Package clique runs a permissioned proof-of-authority network of separate
// geth v1.13.15 processes on loopback: N Clique signers, each with its own
// data dir, static peers and no discovery. go-ethereum 1.13.15 is the last
// release that seals Clique blocks; it stands in for the consortium's Besu
// QBFT network, which speaks the same JSON-RPC (see docs/operations.md for
// what differs). It is test and dev tooling (`make chain-consortium`),
// never part of a box.
package clique

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/google/uuid"

	"github.com/wardgate/wardgate/ledger"
)

// GethVersion is the go-ethereum release the signers run.
const GethVersion = "v1.13.15"

// ChainID is the chain id of the Clique test network.
const ChainID = 7742

// Binary is the cached Clique-capable geth: $WARDGATE_GETH_CLIQUE, else
// ~/.cache/wardgate/geth-clique-v1.13.15/geth (where `make geth-clique`
// puts it). It is built there if missing (about five minutes, once).
func Binary(ctx context.Context) (string, error) {
	p := os.Getenv("WARDGATE_GETH_CLIQUE")
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("clique: home dir: %w", err)
		}
		p = filepath.Join(home, ".cache", "wardgate", "geth-clique-"+GethVersion, "geth")
	}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("clique: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "install", "-ldflags=-checklinkname=0", "github.com/ethereum/go-ethereum/cmd/geth@"+GethVersion)
	cmd.Dir = filepath.Dir(p)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(p))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("clique: building geth %s (needs the Go module proxy): %w\n%s", GethVersion, err, out)
	}
	return p, nil
}

// Options describe the network.
type Options struct {
	Bin     string        // geth binary (see Binary)
	Dir     string        // each node lives in Dir/node<i>
	Signers int           // default 3
	Period  time.Duration // block period, whole seconds (default 1s)
}

// Net is a running Clique network.
type Net struct {
	Nodes []*Node
	opts  Options
}

// Node is one signer process.
type Node struct {
	Index    int
	dir      string
	bin      string
	signer   *ecdsa.PrivateKey
	nodeKey  *ecdsa.PrivateKey
	HTTPPort int
	P2PPort  int
	authPort int
	peers    []string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// URL is the node's JSON-RPC endpoint.
func (n *Node) URL() string { return "http://127.0.0.1:" + strconv.Itoa(n.HTTPPort) }

// Signer is the node's sealing account.
func (n *Node) Signer() common.Address { return crypto.PubkeyToAddress(n.signer.PublicKey) }

func (n *Node) enode() string {
	pub := crypto.FromECDSAPub(&n.nodeKey.PublicKey)[1:]
	return fmt.Sprintf("enode://%x@127.0.0.1:%d", pub, n.P2PPort)
}

// seededKey is a fixed key per role and index, so a restarted node keeps
// its identity.
func seededKey(role string, i int) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("wardgate/clique/%s/%d", role, i))))
	if err != nil {
		panic(err) // a fixed 32-byte seed below the curve order
	}
	return k
}

// Start initialises and starts the network and waits until it seals.
func Start(ctx context.Context, o Options) (*Net, error) {
	if o.Signers == 0 {
		o.Signers = 3
	}
	if o.Period < time.Second {
		o.Period = time.Second
	}
	nw := &Net{opts: o}
	for i := range o.Signers {
		n := &Node{Index: i, dir: filepath.Join(o.Dir, "node"+strconv.Itoa(i)), bin: o.Bin,
			signer: seededKey("signer", i), nodeKey: seededKey("node", i)}
		var err error
		if n.HTTPPort, err = freePort(); err == nil {
			if n.P2PPort, err = freePort(); err == nil {
				n.authPort, err = freePort()
			}
		}
		if err != nil {
			return nil, err
		}
		nw.Nodes = append(nw.Nodes, n)
	}
	gen, err := nw.genesis()
	if err != nil {
		return nil, err
	}
	for _, n := range nw.Nodes {
		for _, m := range nw.Nodes {
			if m != n {
				n.peers = append(n.peers, m.enode())
			}
		}
		if err := n.init(ctx, gen); err != nil {
			nw.Close()
			return nil, err
		}
	}
	for _, n := range nw.Nodes {
		if err := n.Start(ctx); err != nil {
			nw.Close()
			return nil, err
		}
	}
	if err := nw.WaitBlock(ctx, 0, 2); err != nil {
		nw.Close()
		return nil, err
	}
	return nw, nil
}

// genesis is the Clique genesis: London rules (Clique refuses Shanghai),
// the signers in extradata, the dev admin prefunded so that
// ledger.SetupDev deploys the anchor contract at ledger.DevContractAddress.
func (nw *Net) genesis() ([]byte, error) {
	extra := make([]byte, 32)
	for _, n := range nw.Nodes {
		extra = append(extra, n.Signer().Bytes()...)
	}
	extra = append(extra, make([]byte, 65)...)
	admin := crypto.PubkeyToAddress(ledger.DevAdminKey().PublicKey)
	g := map[string]any{
		"config": map[string]any{
			"chainId": ChainID, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
			"byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0,
			"berlinBlock": 0, "londonBlock": 0,
			"clique": map[string]any{"period": uint64(nw.opts.Period / time.Second), "epoch": 30000},
		},
		"difficulty": "0x1", "gasLimit": "0x1c9c380", "baseFeePerGas": "0x3b9aca00",
		"extradata": "0x" + hex.EncodeToString(extra),
		"alloc":     map[string]any{admin.Hex(): map[string]string{"balance": "0x" + strings.Repeat("f", 30)}},
	}
	return json.Marshal(g)
}

func (n *Node) init(ctx context.Context, gen []byte) error {
	if err := os.MkdirAll(filepath.Join(n.dir, "data", "keystore"), 0o700); err != nil {
		return fmt.Errorf("clique: %w", err)
	}
	gf := filepath.Join(n.dir, "genesis.json")
	if err := os.WriteFile(gf, gen, 0o600); err != nil {
		return fmt.Errorf("clique: %w", err)
	}
	id, _ := uuid.NewRandom()
	ks, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: n.Signer(), PrivateKey: n.signer}, "clique", keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		return fmt.Errorf("clique: %w", err)
	}
	if err := os.WriteFile(filepath.Join(n.dir, "data", "keystore", "signer.json"), ks, 0o600); err != nil {
		return fmt.Errorf("clique: %w", err)
	}
	if err := os.WriteFile(filepath.Join(n.dir, "password"), []byte("clique\n"), 0o600); err != nil {
		return fmt.Errorf("clique: %w", err)
	}
	quoted := make([]string, len(n.peers))
	for i, p := range n.peers {
		quoted[i] = strconv.Quote(p)
	}
	cfg := "[Node.P2P]\nListenAddr = \"127.0.0.1:" + strconv.Itoa(n.P2PPort) + "\"\nNoDiscovery = true\nStaticNodes = [" + strings.Join(quoted, ", ") + "]\nTrustedNodes = [" + strings.Join(quoted, ", ") + "]\n"
	if err := os.WriteFile(filepath.Join(n.dir, "config.toml"), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("clique: %w", err)
	}
	if out, err := exec.CommandContext(ctx, n.bin, "init", "--datadir", filepath.Join(n.dir, "data"), gf).CombinedOutput(); err != nil {
		return fmt.Errorf("clique: geth init node %d: %w\n%s", n.Index, err, out)
	}
	return nil
}

// Start (re)starts the node's process and waits until it answers.
func (n *Node) Start(ctx context.Context) error {
	lf, err := os.OpenFile(filepath.Join(n.dir, "geth.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("clique: %w", err)
	}
	addr := n.Signer().Hex()
	n.cmd = exec.Command(n.bin, "--config", filepath.Join(n.dir, "config.toml"), "--datadir", filepath.Join(n.dir, "data"),
		"--networkid", strconv.Itoa(ChainID), "--syncmode", "full", "--nodiscover", "--nat", "none",
		"--nodekeyhex", hex.EncodeToString(crypto.FromECDSA(n.nodeKey)),
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(n.HTTPPort), "--http.api", "eth,net,web3,admin,clique,txpool,miner",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", strconv.Itoa(n.authPort), "--ipcdisable",
		"--mine", "--miner.etherbase", addr, "--unlock", addr, "--password", filepath.Join(n.dir, "password"), "--allow-insecure-unlock",
		"--verbosity", "3")
	n.cmd.Stdout, n.cmd.Stderr = lf, lf
	if err := n.cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("clique: starting node %d: %w", n.Index, err)
	}
	exited := make(chan struct{})
	n.exited = exited
	go func() { n.cmd.Wait(); lf.Close(); close(exited) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := n.head(ctx); err == nil {
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(lf.Name())
			return fmt.Errorf("clique: node %d exited on start:\n%s", n.Index, tail(b, 4000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clique: node %d did not answer on %s", n.Index, n.URL())
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Kill stops the node at once (SIGKILL), as a crashed validator.
func (n *Node) Kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// Stop stops the node gracefully, so that its chain is flushed.
func (n *Node) Stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

// Running reports whether the node's process is up.
func (n *Node) Running() bool { return n.cmd != nil }

func (n *Node) head(ctx context.Context) (uint64, error) {
	cl, err := ethclient.DialContext(ctx, n.URL())
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	return cl.BlockNumber(ctx)
}

// Close stops every node.
func (nw *Net) Close() {
	for _, n := range nw.Nodes {
		n.Stop()
	}
}

// WaitBlock waits until node i's head is at least block.
func (nw *Net) WaitBlock(ctx context.Context, i int, block uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		h, err := nw.Nodes[i].head(ctx)
		if err == nil && h >= block {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clique: node %d did not reach block %d (head %d, last error %w): %w", i, block, h, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// call calls a JSON-RPC method on node i.
func (nw *Net) call(ctx context.Context, i int, out any, method string, args ...any) error {
	c, err := rpc.DialContext(ctx, nw.Nodes[i].URL())
	if err != nil {
		return fmt.Errorf("clique: node %d: %w", i, err)
	}
	defer c.Close()
	if err := c.CallContext(ctx, out, method, args...); err != nil {
		return fmt.Errorf("clique: node %d %s: %w", i, method, err)
	}
	return nil
}

// Partition cuts node i off from every other node (admin_removePeer and
// admin_removeTrustedPeer on both sides); both sides go on sealing what
// they can.
func (nw *Net) Partition(ctx context.Context, i int) error {
	return nw.peering(ctx, i, "admin_removePeer", "admin_removeTrustedPeer")
}

// Rejoin connects node i to the others again; the heavier side's chain
// wins. Node i is restarted (gracefully), so that it dials its static
// peers at once: admin_addPeer alone waits out geth's dial history, 35 s
// from the last dial of each peer, which made a rejoin take half a minute.
// The others take it back as peers too.
func (nw *Net) Rejoin(ctx context.Context, i int) error {
	n := nw.Nodes[i]
	n.Stop()
	if err := n.Start(ctx); err != nil {
		return err
	}
	return nw.peering(ctx, i, "admin_addTrustedPeer", "admin_addPeer")
}

func (nw *Net) peering(ctx context.Context, i int, methods ...string) error {
	for j, m := range nw.Nodes {
		if j == i {
			continue
		}
		for _, method := range methods {
			var ok bool
			if err := nw.call(ctx, i, &ok, method, m.enode()); err != nil {
				return err
			}
			if err := nw.call(ctx, j, &ok, method, nw.Nodes[i].enode()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sealing starts or stops node i's sealing (miner_start, miner_stop).
func (nw *Net) Sealing(ctx context.Context, i int, on bool) error {
	if on {
		return nw.call(ctx, i, nil, "miner_start")
	}
	return nw.call(ctx, i, nil, "miner_stop")
}

// URLs are the nodes' JSON-RPC endpoints.
func (nw *Net) URLs() []string {
	out := make([]string, len(nw.Nodes))
	for i, n := range nw.Nodes {
		out[i] = n.URL()
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("clique: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
