package ledger

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/google/uuid"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
)

var (
	gethOnce sync.Once
	gethPath string
	gethErr  error
)

// gethBinary returns the pinned geth, building it once if it is missing.
func gethBinary(t testing.TB) string {
	t.Helper()
	gethOnce.Do(func() {
		gethPath = os.Getenv("WARDGATE_GETH")
		if gethPath == "" {
			home, _ := os.UserHomeDir()
			gethPath = filepath.Join(home, ".cache", "wardgate", "geth")
		}
		if _, err := os.Stat(gethPath); err == nil {
			return
		}
		os.MkdirAll(filepath.Dir(gethPath), 0o755)
		out, err := exec.Command("go", "build", "-o", gethPath, "github.com/ethereum/go-ethereum/cmd/geth").CombinedOutput()
		if err != nil {
			gethErr = fmt.Errorf("building geth: %w\n%s", err, out)
		}
	})
	if gethErr != nil {
		t.Fatal(gethErr)
	}
	return gethPath
}

// gethNode is a separate `geth --dev` process on wardgate's pinned genesis.
type gethNode struct {
	t       testing.TB
	dir     string
	port    int
	auth    int
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
	chainID uint64
}

func (g *gethNode) url() string { return "http://127.0.0.1:" + strconv.Itoa(g.port) }

func newGeth(t testing.TB) *gethNode {
	t.Helper()
	return newGethOn(t, DevGenesis())
}

// newGethOn is newGeth on genesis g (another chain id, say).
func newGethOn(t testing.TB, genesis *core.Genesis) *gethNode {
	t.Helper()
	bin := gethBinary(t)
	g := &gethNode{t: t, dir: t.TempDir(), port: testutil.FreePort(t), auth: testutil.FreePort(t), chainID: genesis.Config.ChainID.Uint64()}
	gen, err := json.Marshal(genesis)
	if err != nil {
		t.Fatal(err)
	}
	gf := filepath.Join(g.dir, "genesis.json")
	os.WriteFile(gf, gen, 0o600)
	if out, err := exec.Command(bin, "init", "--datadir", filepath.Join(g.dir, "data"), gf).CombinedOutput(); err != nil {
		t.Fatalf("geth init: %v\n%s", err, out)
	}
	g.start()
	t.Cleanup(g.stop)
	return g
}

func (g *gethNode) start() {
	t := g.t
	t.Helper()
	lf, err := os.OpenFile(filepath.Join(g.dir, "geth.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	g.logFile = lf
	g.cmd = exec.Command(gethBinary(t), "--dev", "--dev.period", "0", "--datadir", filepath.Join(g.dir, "data"),
		"--networkid", strconv.FormatUint(g.chainID, 10), "--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(g.port),
		"--http.api", "eth,net,web3", "--authrpc.addr", "127.0.0.1", "--authrpc.port", strconv.Itoa(g.auth),
		"--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable", "--verbosity", "2")
	g.cmd.Stdout, g.cmd.Stderr = lf, lf
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.exited = make(chan struct{})
	go func() { g.cmd.Wait(); close(g.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cl, err := ethclient.Dial(g.url())
		if err == nil {
			_, err = cl.BlockNumber(context.Background())
			cl.Close()
			if err == nil {
				return
			}
		}
		select {
		case <-g.exited:
			b, _ := os.ReadFile(lf.Name())
			t.Fatalf("geth exited on start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("geth did not answer on %s", g.url())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop shuts geth down gracefully, so that the dev chain is flushed to disk.
func (g *gethNode) stop() {
	if g.cmd == nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-g.exited:
	case <-time.After(20 * time.Second):
		g.cmd.Process.Kill()
		<-g.exited
	}
	g.cmd = nil
	g.logFile.Close()
}

// writeKeystore stores key in an encrypted go-ethereum keystore file.
func writeKeystore(t testing.TB, dir string, key *ecdsa.PrivateKey, pass string) string {
	t.Helper()
	id, _ := uuid.NewRandom()
	js, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: crypto.PubkeyToAddress(key.PublicKey), PrivateKey: key}, pass, keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(p, js, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// setupGethGateway deploys the contract on g, registers a fresh gateway and
// returns the rpc config for it.
func setupGethGateway(t testing.TB, g *gethNode) RPCConfig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := ethclient.DialContext(ctx, g.url())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	key, _ := crypto.GenerateKey()
	contract, err := SetupDev(ctx, cl, DevGateway{Addr: crypto.PubkeyToAddress(key.PublicKey), Box: "st-mary", RecordKey: testSigner(t, 7).Public()})
	if err != nil {
		t.Fatal(err)
	}
	return RPCConfig{URL: g.url(), ChainID: DevChainID, Contract: contract, KeystoreFile: writeKeystore(t, t.TempDir(), key, "hunter2"), Passphrase: "hunter2", Confirmations: 1}
}

// TestGethChainDown runs against a separate geth --dev process: anchor,
// stop the node, keep journaling, restart it, and the backlog is anchored
// with one transaction for the newest checkpoint.
func TestGethChainDown(t *testing.T) {
	ctx := context.Background()
	g := newGeth(t)
	rc := setupGethGateway(t, g)
	chain, err := DialRPC(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	chain.poll = 20 * time.Millisecond
	l := openTest(t, t.TempDir(), chain, nil)
	pub := testSigner(t, 7).Public()

	appendN(t, l, 0, 10)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, 10)

	g.stop()
	appendN(t, l, 10, 10)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 20, 5)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "status to show the chain down", func() bool { return !l.Status(ctx).ChainConnected })
	if s := l.Status(ctx); s.Size != 25 || s.Backlog != 15 {
		t.Fatalf("while the chain is down: size %d backlog %d, want 25 and 15", s.Size, s.Backlog)
	}
	r, err := l.Receipt(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != proof.StatusPending {
		t.Fatalf("receipt while chain down: %s, want pending", r.Status)
	}

	g.start()
	waitAnchored(t, l, 25)
	cl, err := ethclient.Dial(g.url())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ev := anchoredEvents(t, cl, rc.Contract, chain.Gateway())
	if len(ev) != 2 || ev[10] != 1 || ev[25] != 1 {
		t.Fatalf("anchored events %v, want sizes 10 and 25 once each", ev)
	}
	up, err := l.Upgrade(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := proof.Verify(ctx, up, proof.VerifyOptions{RecordKey: pub, Record: []byte{12, 0, 0}, Backend: cl, ChainID: DevChainID, Contract: rc.Contract, Gateway: chain.Gateway(), MinDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if up.Checkpoint.Size != 25 || !res.Anchored {
		t.Fatalf("upgraded receipt at size %d anchored=%v", up.Checkpoint.Size, res.Anchored)
	}
	p, err := l.ConsistencyBetween(ctx, 10, 25)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(ctx, p, proof.VerifyOptions{RecordKey: pub, Backend: cl, ChainID: DevChainID, Contract: rc.Contract}); err != nil {
		t.Fatal(err)
	}
	if s := l.Status(ctx); s.Backlog != 0 || !s.ChainConnected {
		t.Fatalf("after the chain returned: %+v", s)
	}
}
