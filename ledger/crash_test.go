package ledger

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/wardgate/wardgate/ledger/proof"
)

// crashChildEnv makes the test binary run crashChild instead of the tests:
// the crash test re-executes itself as the process it kills.
const crashChildEnv = "WARDGATE_LEDGER_CRASH_CHILD"

type crashChildConfig struct {
	Dir string    `json:"dir"`
	RPC RPCConfig `json:"rpc"`
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(crashChildEnv); cfg != "" {
		os.Exit(crashChild(cfg))
	}
	os.Exit(m.Run())
}

// crashChild appends from many goroutines and prints "seq digest" for each
// acknowledged entry until it is killed.
func crashChild(js string) int {
	var cfg crashChildConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	chain, err := DialRPC(ctx, cfg.RPC)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	chain.poll = 20 * time.Millisecond
	s, _ := proof.NewKeySigner(ed25519Key(7))
	l, err := Open(ctx, Config{Box: "st-mary", StateDir: cfg.Dir, Signer: s, Chain: chain, CheckpointEntries: 500, CheckpointInterval: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				a, err := l.Append(ctx, testEntry(w<<20|i))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %x\n", a.Seq, a.Entry.Digest)
				out.Flush() // into the pipe before the next ack: kill -9 must not lose it
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	return 1
}

// TestCrashKill9 kills a process appending under load with SIGKILL, twice,
// and checks that every acknowledged entry survived and that every
// checkpoint anchored on chain was anchored exactly once.
func TestCrashKill9(t *testing.T) {
	ctx := context.Background()
	g := newGeth(t)
	rc := setupGethGateway(t, g)
	dir := t.TempDir()
	cfgJS, _ := json.Marshal(crashChildConfig{Dir: dir, RPC: rc})
	acked := map[uint64]string{}

	cl, err := ethclient.Dial(g.url())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	probe, err := DialRPC(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()

	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+string(cfgJS))
		stdout, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		before := len(acked)
		startSize, _ := probe.LatestSize(ctx)
		killed := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			seq, _ := strconv.ParseUint(f[0], 10, 64)
			acked[seq] = f[1]
			// Kill once a fair load is through and an anchor landed in
			// this round, so the kill hits mid-anchoring as well as mid-append.
			if !killed && len(acked)-before > 3000 {
				if sz, err := probe.LatestSize(ctx); err == nil && sz > startSize {
					cmd.Process.Kill()
					killed = true
				}
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child exited by itself:\n%s", round, stderr.String())
		}
		t.Logf("round %d: %d entries acknowledged so far", round, len(acked))
	}

	// Reopen: every acknowledged entry is in the log.
	chain, err := DialRPC(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	chain.poll = 20 * time.Millisecond
	l := openTest(t, dir, chain, nil)
	for seq, d := range acked {
		e, err := l.Entry(ctx, seq)
		if err != nil {
			t.Fatalf("acknowledged entry %d lost: %v", seq, err)
		}
		if hex.EncodeToString(e.Digest[:]) != d {
			t.Fatalf("entry %d digest %x, acknowledged %s", seq, e.Digest, d)
		}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitAnchored(t, l, cp.Size)

	// Exactly once: each size has one Anchored event, and the gateway sent
	// no transaction that is not one of those events (no reverted repeats).
	ev := anchoredEvents(t, cl, rc.Contract, chain.Gateway())
	var total int
	for size, n := range ev {
		if n != 1 {
			t.Fatalf("size %d anchored %d times", size, n)
		}
		total += n
	}
	nonce, err := cl.NonceAt(ctx, chain.Gateway(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if int(nonce) != total {
		t.Fatalf("gateway sent %d txs for %d anchors", nonce, total)
	}
	for _, s := range l.AnchoredSizes() {
		if ev[s] != 1 {
			t.Fatalf("ledger records size %d as anchored, chain has it %d times", s, ev[s])
		}
	}
	t.Logf("%d acknowledged entries survived; %d checkpoints anchored once each", len(acked), total)
}
