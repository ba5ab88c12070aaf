package integration

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
)

// TestRestartMidStreamLosesNoRecord sends records a->b without pause, kills
// b and then a with SIGKILL mid-stream, and restarts each. Every record a
// acknowledged to its hospital (HTTP 200 with b's countersignature) must
// have, after the restarts, an anchored receipt on a (sent) and on b
// (received) that verifies against the chain.
func TestRestartMidStreamLosesNoRecord(t *testing.T) {
	c := newCluster(t, cluster.Userspace, []string{"a", "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	a, b := c.Box("a"), c.Box("b")
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitUp := func() {
		t.Helper()
		if _, err := a.WaitPeer(ctx, "b", admitted); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WaitPeer(ctx, "a", admitted); err != nil {
			t.Fatal(err)
		}
	}
	waitUp()

	var (
		mu      sync.Mutex
		acked   = map[string][]byte{} // digest hex -> record
		refused atomic.Int64
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	sendCtx, stopSending := context.WithCancel(ctx)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sendCtx.Err() == nil {
				rec := fhirBundle(int(next.Add(1)))
				rctx, rcancel := context.WithTimeout(sendCtx, 10*time.Second)
				code, _, err := a.PostRecord(rctx, "b", "application/fhir+json", rec)
				rcancel()
				if err == nil && code == http.StatusOK {
					d := sha256.Sum256(rec)
					mu.Lock()
					acked[hex.EncodeToString(d[:])] = rec
					mu.Unlock()
					continue
				}
				refused.Add(1)
				time.Sleep(20 * time.Millisecond) // the box is restarting
			}
		}()
	}
	ackedNow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitMore := func(n int) {
		t.Helper()
		target := ackedNow() + n
		// A restart takes the tunnel down until the peers re-attest; two
		// minutes is far past that on a loaded 2-core machine.
		testutil.WaitForWithin(t, 2*time.Minute, fmt.Sprintf("%d acknowledged records", target), func() bool {
			return ackedNow() >= target
		})
	}
	for _, victim := range []*cluster.Box{b, a} {
		waitMore(20)
		t.Logf("kill -9 %s after %d acknowledged records", victim.Name, ackedNow())
		if err := victim.Kill(ctx); err != nil {
			t.Fatal(err)
		}
		if err := victim.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := victim.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		waitUp()
	}
	waitMore(20)
	stopSending()
	wg.Wait()
	t.Logf("%d records acknowledged, %d refused or failed while a box restarted", len(acked), refused.Load())

	keys := map[string]ed25519.PublicKey{}
	for _, x := range []*cluster.Box{a, b} {
		k, _ := hex.DecodeString(recordKey(ctx, t, x))
		keys[x.Name] = k
	}
	eth, err := ethclient.DialContext(ctx, c.ChainURL)
	if err != nil {
		t.Fatal(err)
	}
	defer eth.Close()
	var st struct {
		ChainID  uint64 `json:"chain_id"`
		Contract string `json:"contract"`
	}
	if err := a.CLIJSON(ctx, &st, "ledger", "status"); err != nil {
		t.Fatal(err)
	}
	for d, rec := range acked {
		for _, x := range []*cluster.Box{a, b} {
			rc := waitAnchored(ctx, t, x, d)
			r, err := proof.ParseReceipt(rc.Ledger)
			if err != nil {
				t.Fatalf("%s's receipt for %s: %v", x.Name, d[:12], err)
			}
			res, err := proof.Verify(ctx, r, proof.VerifyOptions{
				RecordKey: keys[x.Name], Record: rec, Backend: eth,
				ChainID: st.ChainID, Contract: commonAddress(t, st.Contract), MinDepth: 1,
			})
			if err != nil {
				t.Fatalf("%s's receipt for acknowledged record %s does not verify after the restarts: %v", x.Name, d[:12], err)
			}
			want := proof.KindSent
			if x == b {
				want = proof.KindReceived
			}
			if res.Entry.Kind != want || res.Entry.Sender != "a" || res.Entry.Receiver != "b" {
				t.Fatalf("%s's entry for %s: %v %s->%s", x.Name, d[:12], res.Entry.Kind, res.Entry.Sender, res.Entry.Receiver)
			}
		}
	}
}

func commonAddress(tb testing.TB, s string) common.Address {
	tb.Helper()
	if !common.IsHexAddress(s) {
		tb.Fatalf("contract %q is not an address", s)
	}
	return common.HexToAddress(s)
}
