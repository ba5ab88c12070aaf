package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// natCluster is two boxes, each behind its own NAT, with every peer via
// o.Via and the relay's namespace built (not started).
func natCluster(t testing.TB, interval time.Duration, o cluster.NATOptions) (*cluster.Cluster, *cluster.NAT) {
	t.Helper()
	requireRoot(t)
	c := newClusterEvery(t, interval, cluster.Tun, []string{"hospital-a", "hospital-b"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := c.NewNAT(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(n.Dir, "relay.log"))
			t.Logf("---- relay log ----\n%s", log)
		}
		n.Close()
	})
	return c, n
}

func onPath(path string) func(cluster.Peer) bool {
	return func(p cluster.Peer) bool { return p.State == "admitted" && p.Path == path }
}

// TestNATRelay: two boxes behind NAT with no direct path attest each
// other through the relay, bring the tunnel up and exchange FHIR and HL7
// records whose receipts verify; the relay keeps nothing of them.
func TestNATRelay(t *testing.T) {
	c, n := natCluster(t, 2*time.Second, cluster.NATOptions{Via: "relay", Isolate: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	A, B := c.Box("hospital-a"), c.Box("hospital-b")
	start := time.Now()

	// No direct path: neither box reaches the other on the underlay.
	if out, err := A.Exec(ctx, "ping", "-c", "1", "-W", "1", B.Host); err == nil {
		t.Fatalf("A reaches B directly; the NAT test needs no direct path:\n%s", out)
	}
	if err := n.StartRelay(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*cluster.Box{{A, B}, {B, A}} {
		if _, err := pair[0].WaitPeer(ctx, pair[1].Name, onPath("relay")); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("admitted through the relay %v after start", time.Since(start).Round(time.Millisecond))
	// PATH in the table, as the operator sees it.
	if out, err := A.CLI(ctx, "peers"); err != nil || !strings.Contains(string(out), "PATH") || !strings.Contains(string(out), "relay") {
		t.Fatalf("wardgate peers shows no relay path: %v\n%s", err, out)
	}

	bundle := fhirBundle(9101)
	code, body, err := A.PostRecord(ctx, "hospital-b", "application/fhir+json", bundle)
	if err != nil || code != http.StatusOK {
		t.Fatalf("FHIR A->B through the relay: %d %s %v", code, body, err)
	}
	if _, err := c.Sink.WaitFor(ctx, "hospital-b", `"id":"demo-9101"`); err != nil {
		t.Fatal(err)
	}
	ack, err := B.SendHL7(ctx, []byte(adt("hospital-a", "NATREL01")))
	if err != nil || ack.Code != "AA" {
		t.Fatalf("HL7 B->A through the relay: ack %+v, err %v", ack, err)
	}
	if _, err := c.Sink.WaitFor(ctx, "hospital-a", "MRNNATREL01"); err != nil {
		t.Fatal(err)
	}
	keyA, keyB := recordKey(ctx, t, A), recordKey(ctx, t, B)
	arc := anchoredReceipt(ctx, t, A, bundle)
	if out, err := verifyReceipt(ctx, A, c, arc, bundle, t.TempDir(), "--record-key", keyA, "--receiver-key", keyB); err != nil {
		t.Fatalf("wardgate verify on a receipt carried through the relay: %v\n%s", err, out)
	}

	t.Logf("records exchanged and receipt verified at %v", time.Since(start).Round(time.Millisecond))
	// Metrics: relay up, bytes relayed.
	mfs := scrape(ctx, t, A)
	if v := metricSum(mfs, "wardgate_relay_connected"); v != 1 {
		t.Errorf("wardgate_relay_connected = %v, want 1", v)
	}
	if v := metricSum(mfs, "wardgate_relay_bytes_total", "kind", "packet"); v == 0 {
		t.Errorf("wardgate_relay_bytes_total{kind=packet} = 0 after records went through the relay")
	}

	acked := relayRestartMidStream(ctx, t, c, n)
	t.Logf("%d records acknowledged around a relay restart, all delivered, at %v", len(acked), time.Since(start).Round(time.Millisecond))
	n.KillRelay()
	markers := [][]byte{[]byte("demo-9101"), []byte("MRNNATREL01"), []byte("DOE"), []byte("Doe")}
	for _, id := range acked {
		markers = append(markers, []byte(id))
	}
	assertRelayKeptNothing(t, n, markers)
}

// relayRestartMidStream sends records A->B back to back while the relay
// is killed and restarted under them: the boxes reconnect, and every
// record A acknowledged reaches B's EHR. It returns the acknowledged ids.
func relayRestartMidStream(ctx context.Context, t *testing.T, c *cluster.Cluster, n *cluster.NAT) []string {
	t.Helper()
	A, B := c.Box("hospital-a"), c.Box("hospital-b")
	var mu sync.Mutex
	var acked []string
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; sctx.Err() == nil; i++ {
			id := fmt.Sprintf("restart-%d", i)
			rec := fmt.Appendf(nil, `{"resourceType":"Observation","id":%q,"status":"final"}`, id)
			rctx, cancel := context.WithTimeout(sctx, 3*time.Second)
			code, _, err := A.PostRecord(rctx, "hospital-b", "application/fhir+json", rec)
			cancel()
			if err == nil && code == http.StatusOK {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}
	}()
	waitCount := func(n int) {
		for count() < n {
			select {
			case <-ctx.Done():
				stop()
				t.Fatalf("only %d records acknowledged around the relay restart", count())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitCount(3)
	n.KillRelay()
	before := count()
	time.Sleep(time.Second)
	if err := n.StartRelay(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*cluster.Box{{A, B}, {B, A}} {
		if _, err := pair[0].WaitPeer(ctx, pair[1].Name, onPath("relay")); err != nil {
			t.Fatal(err)
		}
	}
	waitCount(before + 3)
	stop()
	<-done
	for _, id := range acked {
		if _, err := c.Sink.WaitFor(ctx, "hospital-b", `"id":"`+id+`"`); err != nil {
			t.Fatalf("record %s was acknowledged but never reached B: %v", id, err)
		}
	}
	if v := metricSum(scrape(ctx, t, A), "wardgate_relay_reconnects_total"); v < 1 {
		t.Errorf("wardgate_relay_reconnects_total = %v after the relay restart", v)
	}
	return acked
}

// assertRelayKeptNothing checks the relay's working dir is empty and its
// log holds no record bytes and no attestation evidence.
func assertRelayKeptNothing(t *testing.T, n *cluster.NAT, markers [][]byte) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(n.Dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("the relay wrote %d file(s) in its working dir, want none", len(ents))
	}
	log, err := os.ReadFile(filepath.Join(n.Dir, "relay.log"))
	if err != nil {
		t.Fatal(err)
	}
	evidence := [][]byte{[]byte("quote"), []byte("event_log"), []byte("nonce"), []byte("BEGIN CERTIFICATE"), []byte("ek_cert")}
	for _, m := range append(markers, evidence...) {
		if bytes.Contains(bytes.ToLower(log), bytes.ToLower(m)) {
			t.Errorf("the relay's log holds %q", m)
		}
	}
	if !bytes.Contains(log, []byte("box connected")) {
		t.Errorf("relay log does not show the boxes connecting; is it the right file?\n%s", log)
	}
}

var _ = json.Marshal
