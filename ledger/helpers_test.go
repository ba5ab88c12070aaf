package ledger

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
)

func testSigner(t testing.TB, seed byte) *proof.KeySigner {
	t.Helper()
	s, err := proof.NewKeySigner(ed25519.NewKeyFromSeed(make32(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func make32(b byte) []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = b
	}
	return s
}

func testEntry(i int) proof.Entry {
	rec := []byte{byte(i), byte(i >> 8), byte(i >> 16)}
	return proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(rec), Sender: "st-mary", Receiver: "city-general", ContentType: "application/hl7-v2"}
}

// simChain is the simulated backend on wardgate's pinned dev genesis,
// sealing a block every few milliseconds like a dev node.
type simChain struct {
	sim  *simulated.Backend
	stop chan struct{}
	done chan struct{}
	// mu is held by the automatic sealer while it commits, so pause
	// returns only once no automatic Commit runs: the simulated beacon is
	// not safe for two Commits (or a Fork and a Commit) at once.
	mu     sync.Mutex
	paused bool // no automatic blocks while a test forks the chain
}

// pause stops automatic blocks, waiting out one being sealed.
func (s *simChain) pause() { s.setPaused(true) }

// resume starts automatic blocks again.
func (s *simChain) resume() { s.setPaused(false) }

func (s *simChain) setPaused(p bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = p
}

func newSimChain(t testing.TB) *simChain {
	t.Helper()
	g := DevGenesis()
	sim := simulated.NewBackend(g.Alloc, func(nc *node.Config, ec *ethconfig.Config) {
		ec.Genesis = g
		ec.NetworkId = DevChainID
	})
	s := &simChain{sim: sim, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C:
				s.mu.Lock()
				if !s.paused {
					sim.Commit()
				}
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		close(s.stop)
		<-s.done
		sim.Close()
	})
	return s
}

// gateway registers a fresh gateway on the dev contract for openTest's box
// and record key, and returns a Chain for it.
func (s *simChain) gateway(t testing.TB) (*Chain, *ecdsa.PrivateKey) {
	return s.gatewayFor(t, "st-mary", testSigner(t, 7).Public())
}

// gatewayFor registers a fresh gateway bound to box and record key rk.
func (s *simChain) gatewayFor(t testing.TB, box string, rk ed25519.PublicKey) (*Chain, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := crypto.GenerateKey()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, err := SetupDev(ctx, s.sim.Client(), DevGateway{Addr: crypto.PubkeyToAddress(key.PublicKey), Box: box, RecordKey: rk})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChain(s.sim.Client(), ChainOptions{ChainID: DevChainID, Contract: addr, Key: key, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func openTest(t testing.TB, dir string, chain *Chain, mod func(*Config)) *Ledger {
	t.Helper()
	cfg := Config{Box: "st-mary", StateDir: dir, Signer: testSigner(t, 7), Chain: chain, CheckpointInterval: time.Hour, CheckpointEntries: 1 << 40,
		Logger: testutil.QuietLogger()}
	if mod != nil {
		mod(&cfg)
	}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func ed25519Key(seed byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(make32(seed)) }
