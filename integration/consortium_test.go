package integration

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/integration/cluster"
)

// TestConsortiumUserspace runs hospitals A, B and C as separate wardgated
// processes on loopback with userspace tunnels: no root needed.
func TestConsortiumUserspace(t *testing.T) { runConsortium(t, cluster.Userspace) }

// TestConsortiumTun runs the same consortium in network namespaces with
// kernel TUN devices configured over netlink.
func TestConsortiumTun(t *testing.T) {
	requireRoot(t)
	runConsortium(t, cluster.Tun)
}

// runConsortium is issue 5's scenario: A and B admit each other and carry
// records; C boots an unapproved kernel and is refused, with its reason in
// A's and B's reports; B is tampered and restarted and A revokes it; the
// reports export and verify against A's key.
func runConsortium(t *testing.T, mode cluster.Mode) {
	c := newCluster(t, mode, []string{"a", "b", "c"}, "c")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	A, B, C := c.Box("a"), c.Box("b"), c.Box("c")

	start := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := A.WaitPeer(ctx, "b", admitted); err != nil {
		t.Fatal(err)
	}
	if _, err := B.WaitPeer(ctx, "a", admitted); err != nil {
		t.Fatal(err)
	}
	t.Logf("A and B admitted each other %v after start", time.Since(start).Round(time.Millisecond))

	// C is refused by both, with its reason recorded.
	for _, v := range []*cluster.Box{A, B} {
		p, err := v.WaitPeer(ctx, "c", func(p cluster.Peer) bool { return p.Verdict == "fail" })
		if err != nil {
			t.Fatal(err)
		}
		if p.State == "admitted" {
			t.Fatalf("%s admitted C with a failing verdict: %+v", v.Name, p)
		}
		if !hasReason(p, "component") {
			t.Errorf("%s's verdict on C names no component reason: %+v", v.Name, p.Reasons)
		}
		var reps []struct {
			ID      string `json:"id"`
			Verdict string `json:"verdict"`
			Reasons []struct {
				Code string `json:"code"`
			} `json:"reasons"`
		}
		if err := v.CLIJSON(ctx, &reps, "reports", "list", "--peer", "c", "--verdict", "fail"); err != nil {
			t.Fatal(err)
		}
		if len(reps) == 0 || len(reps[0].Reasons) == 0 {
			t.Fatalf("%s has no failing report on C with a reason: %+v", v.Name, reps)
		}
	}

	// Traffic A -> B: a FHIR Bundle over HTTP and an HL7 ADT over MLLP.
	bundle := fhirBundle(1)
	code, body, err := A.PostRecord(ctx, "b", "application/fhir+json", bundle)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST record A->B: %d %s %v", code, body, err)
	}
	var rc receiptView
	if err := json.Unmarshal(body, &rc); err != nil {
		t.Fatalf("receipt: %v: %s", err, body)
	}
	if rc.Sender != "a" || rc.Receiver != "b" || len(rc.Countersign) == 0 || string(rc.Countersign) == "null" {
		t.Fatalf("receipt is not A->B countersigned: %s", body)
	}
	if d, err := c.Sink.WaitFor(ctx, "b", `"id":"demo-1"`); err != nil {
		t.Fatal(err)
	} else if d.Sender != "a" || d.ContentType != "application/fhir+json" {
		t.Fatalf("B's EHR got %+v", d)
	}
	ack, err := A.SendHL7(ctx, []byte(adt("b", "MSG0001")))
	if err != nil || ack.Code != "AA" {
		t.Fatalf("HL7 A->B over MLLP: ack %+v, err %v", ack, err)
	}
	if _, err := c.Sink.WaitFor(ctx, "b", "MRNMSG0001"); err != nil {
		t.Fatal(err)
	}
	// A bulk export: three resources in one request, three receipts, three deliveries.
	var res [][]byte
	for i := 0; i < 3; i++ {
		res = append(res, fmt.Appendf(nil, `{"resourceType":"Observation","id":"bulk-%d-%s","status":"final"}`, i, mode))
	}
	code, body, err = A.PostBulk(ctx, "b", res)
	if err != nil || code != http.StatusOK || bytes.Count(body, []byte(`"countersign":{`)) != 3 {
		t.Fatalf("bulk POST A->B: %d %s %v", code, body, err)
	}
	for i := range res {
		if _, err := c.Sink.WaitFor(ctx, "b", fmt.Sprintf(`"id":"bulk-%d-%s"`, i, mode)); err != nil {
			t.Fatal(err)
		}
	}
	// b's EHR is down: a learns it (502, lan_endpoint_down) and retries
	// the same record once it is back; b delivers it exactly once.
	c.Sink.SetDown("b", true)
	down := fhirBundle(4)
	if code, body, _ := A.PostRecord(ctx, "b", "application/fhir+json", down); code != http.StatusBadGateway || !strings.Contains(string(body), "lan_endpoint_down") {
		t.Fatalf("record to b while b's EHR is down: %d %s, want 502 lan_endpoint_down", code, body)
	}
	c.Sink.SetDown("b", false)
	if code, body, err := A.PostRecord(ctx, "b", "application/fhir+json", down); err != nil || code != http.StatusOK {
		t.Fatalf("retry once b's EHR is back: %d %s %v", code, body, err)
	}
	if n := countDeliveries(c.Sink.Deliveries("b"), down); n != 1 {
		t.Fatalf("the retried record reached b's EHR %d times, want 1", n)
	}
	if mode == cluster.Tun {
		if out, err := A.Exec(ctx, "ping", "-c", "2", "-W", "2", B.TunnelIP.String()); err != nil {
			t.Fatalf("ping A->B through the tunnel: %v\n%s", err, out)
		}
	}
	ps, err := A.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps["b"].RxBytes == 0 || ps["b"].TxBytes == 0 {
		t.Errorf("A's tunnel counters for B stayed zero after traffic: %+v", ps["b"])
	}

	// The receipt anchors, and verifies offline and on chain.
	// Prometheus sees the same: one admitted peer, refusals counted, the
	// tunnel carrying bytes, the log growing.
	mfs := scrape(ctx, t, A)
	if v := metricSum(mfs, "wardgate_admitted_peers"); v != 1 {
		t.Errorf("a's wardgate_admitted_peers = %v, want 1 (b)", v)
	}
	if v := metricSum(mfs, "wardgate_attestations_total", "outcome", "fail"); v < 1 {
		t.Errorf("a's wardgate_attestations_total{outcome=fail} = %v, want >= 1 (c)", v)
	}
	if v := metricSum(mfs, "wardgate_tunnel_bytes", "peer", "b"); v == 0 {
		t.Errorf("a's wardgate_tunnel_bytes{peer=b} = 0 after traffic")
	}
	if v := metricSum(mfs, "wardgate_log_size"); v < 2 {
		t.Errorf("a's wardgate_log_size = %v after two records", v)
	}
	// FHIR, HL7, three in bulk, the retried one: at least 6 sent, in batches.
	if v := metricSum(mfs, "wardgate_records_total", "event", "sent"); v < 6 {
		t.Errorf("a's wardgate_records_total{event=sent} = %v, want >= 6", v)
	}
	if v := metricSum(mfs, "wardgate_records_total", "event", "refused"); v < 1 {
		t.Errorf("a's wardgate_records_total{event=refused} = %v after the refusal while b's EHR was down", v)
	}
	if b, r := metricSum(mfs, "wardgate_peer_batches_total"), metricSum(mfs, "wardgate_peer_batch_records_total"); b < 1 || r < b {
		t.Errorf("a's peer batches: %v batches carrying %v records", b, r)
	}

	// With b's record key, b's countersignature is checked too; a forged
	// countersignature is refused by name.
	keyA, keyB := recordKey(ctx, t, A), recordKey(ctx, t, B)
	arc := anchoredReceipt(ctx, t, A, bundle)
	pins := []string{"--record-key", keyA, "--receiver-key", keyB}
	if out, err := verifyReceipt(ctx, A, c, arc, bundle, t.TempDir(), pins...); err != nil {
		t.Fatalf("wardgate verify on A's anchored receipt: %v\n%s", err, out)
	}
	var forged map[string]any
	if err := json.Unmarshal(arc.raw, &forged); err != nil {
		t.Fatal(err)
	}
	forged["countersign"].(map[string]any)["received_entry"] = forged["ledger"].(map[string]any)["entry"]
	arc.raw, _ = json.Marshal(forged)
	if out, err := verifyReceipt(ctx, A, c, arc, bundle, t.TempDir(), pins...); err == nil || !strings.Contains(err.Error(), "bad_countersignature") {
		t.Fatalf("a receipt with a forged countersignature: err %v\n%s", err, out)
	}
	if out, err := verifyReceipt(ctx, A, c, arc, bundle, t.TempDir(), "--record-key", keyB); err == nil || !strings.Contains(err.Error(), "wrong_key") {
		t.Fatalf("a's receipt checked against b's record key: err %v\n%s", err, out)
	}

	// C stays refused: records to it are refused, and after two more
	// intervals it is still not admitted.
	if code, body, _ := A.PostRecord(ctx, "c", "application/fhir+json", fhirBundle(2)); code != http.StatusForbidden {
		t.Fatalf("record A->C (refused peer): %d %s, want 403", code, body)
	}
	time.Sleep(2 * 2 * time.Second)
	for _, v := range []*cluster.Box{A, B} {
		ps, err := v.Peers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps["c"].State == "admitted" {
			t.Fatalf("%s admitted C later: %+v", v.Name, ps["c"])
		}
	}
	if ps, err := C.Peers(ctx); err == nil && ps["a"].State == "admitted" {
		// C may admit A (A is fine), but A never admits C, so no tunnel.
		t.Logf("C admits A (A's evidence is good); A refuses C, so no traffic flows")
	}

	// Tamper with B's kernel and restart it: A revokes B.
	tamper := time.Now()
	if err := B.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := B.Tamper(); err != nil {
		t.Fatal(err)
	}
	if err := B.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	if _, err := A.WaitPeer(ctx, "b", func(p cluster.Peer) bool { return p.State != "admitted" }); err != nil {
		t.Fatal(err)
	}
	t.Logf("A revoked B %v after B was stopped for tampering", time.Since(tamper).Round(time.Millisecond))
	// The tampered B comes back and is appraised: failing, never re-admitted.
	p, err := A.WaitPeer(ctx, "b", func(p cluster.Peer) bool { return p.Verdict == "fail" && hasReason(p, "component-unapproved") })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("A's verdict on the tampered B, %v after its restart: %+v", time.Since(restarted).Round(time.Millisecond), p.Reasons)
	if p.State == "admitted" {
		t.Fatalf("A admitted tampered B: %+v", p)
	}
	if code, body, _ := A.PostRecord(ctx, "b", "application/fhir+json", fhirBundle(3)); code == http.StatusOK {
		t.Fatalf("record A->tampered B was forwarded: %s", body)
	}
	if mode == cluster.Tun {
		if out, err := A.Exec(ctx, "ping", "-c", "1", "-W", "1", B.TunnelIP.String()); err == nil {
			t.Fatalf("ping A->tampered B still passes:\n%s", out)
		}
	}

	// The security team exports A's reports and checks them with A's key.
	pub, _ := hex.DecodeString(keyA)
	out := filepath.Join(t.TempDir(), "reports.json")
	if _, err := A.CLI(ctx, "reports", "export", "--since", "1h", "--format", "json", "-o", out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(data, &docs); err != nil {
		t.Fatalf("export is not a JSON array: %v", err)
	}
	var peers []string
	for i, d := range docs {
		r, err := attest.VerifyReport(d, pub)
		if err != nil {
			t.Fatalf("exported report %d does not verify against A's key: %v", i, err)
		}
		if r.Verifier != "a" {
			t.Fatalf("report %d verifier %q", i, r.Verifier)
		}
		peers = append(peers, r.Peer+map[bool]string{true: ":pass", false: ":fail"}[r.Pass])
	}
	for _, want := range []string{"b:pass", "c:fail", "b:fail"} {
		if !slices.Contains(peers, want) {
			t.Errorf("A's exported reports lack %s (have %v)", want, peers)
		}
	}
	// A flipped byte in an exported report is caught.
	bad := []byte(strings.Replace(string(docs[0]), `"peer":"`, `"peer":"X`, 1))
	if _, err := attest.VerifyReport(bad, pub); err == nil {
		t.Fatal("an edited report verified")
	}
}

// hasReason reports whether one of p's reasons has a code containing sub.
func hasReason(p cluster.Peer, sub string) bool {
	for _, r := range p.Reasons {
		if strings.Contains(r.Code, sub) {
			return true
		}
	}
	return false
}

// recordKey is box's record key (hex) from `wardgate ledger status`: the
// key that signs its entries, checkpoints and attestation reports.
func recordKey(ctx context.Context, tb testing.TB, box *cluster.Box) string {
	tb.Helper()
	var ls struct {
		RecordKey string `json:"record_key"`
	}
	if err := box.CLIJSON(ctx, &ls, "ledger", "status"); err != nil {
		tb.Fatal(err)
	}
	if k, err := hex.DecodeString(ls.RecordKey); err != nil || len(k) != ed25519.PublicKeySize {
		tb.Fatalf("%s's record key %q is not an Ed25519 key", box.Name, ls.RecordKey)
	}
	return ls.RecordKey
}

// scrape reads box's Prometheus metrics.
func scrape(ctx context.Context, tb testing.TB, box *cluster.Box) map[string]*dto.MetricFamily {
	tb.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, box.MetricsURL(), nil)
	resp, err := box.MetricsClient().Do(req)
	if err != nil {
		tb.Fatalf("scraping %s's metrics: %v", box.Name, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("%s's metrics do not parse: %v", box.Name, err)
	}
	return mfs
}

// metricSum adds up the samples of name whose labels include the given
// name/value pairs.
func metricSum(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var sum float64
	mf := mfs[name]
	if mf == nil {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			ok := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					ok = true
				}
			}
			if !ok {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func countDeliveries(ds []cluster.Delivery, body []byte) int {
	n := 0
	for _, d := range ds {
		if bytes.Equal(d.Body, body) {
			n++
		}
	}
	return n
}
