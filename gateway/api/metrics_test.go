package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("metric %s missing", name)
	}
next:
	for _, m := range mf.Metric {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("metric %s%v missing", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	b := newBackend()
	m := NewMetrics(b, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String() + "/metrics"

	mfs := scrape(t, url)
	for _, o := range []string{OutcomePass, OutcomeFail, OutcomeError} {
		if v := value(t, mfs, "wardgate_attestations_total", "outcome", o); v != 0 {
			t.Fatalf("fresh counter %s = %v", o, v)
		}
	}
	if v := value(t, mfs, "wardgate_admitted_peers"); v != 1 {
		t.Fatalf("admitted peers %v, want 1", v)
	}
	if v := value(t, mfs, "wardgate_tunnel_bytes", "peer", "hospital-b", "direction", "tx"); v != 2000 {
		t.Fatalf("tx bytes %v", v)
	}
	if v := value(t, mfs, "wardgate_log_size"); v != 5000 {
		t.Fatalf("log size %v", v)
	}
	if v := value(t, mfs, "wardgate_anchor_lag_entries"); v != 904 {
		t.Fatalf("anchor lag %v", v)
	}
	for _, e := range []struct {
		url             string
		healthy, active float64
	}{{"http://10.0.0.5:8545", 0, 0}, {"http://10.0.1.5:8545", 1, 1}} {
		if h, a := value(t, mfs, "wardgate_chain_endpoint_healthy", "url", e.url), value(t, mfs, "wardgate_chain_endpoint_active", "url", e.url); h != e.healthy || a != e.active {
			t.Fatalf("endpoint %s: healthy %v active %v, want %v %v", e.url, h, a, e.healthy, e.active)
		}
	}
	if mfs["go_goroutines"] == nil {
		t.Error("Go runtime metrics missing")
	}

	// The daemon reports events; the gauges follow the backend at scrape time.
	m.Attestation(OutcomePass)
	m.Attestation(OutcomePass)
	m.Attestation(OutcomeFail)
	m.AnchorError()
	b.peers[1].State = "admitted"
	b.peers[0].RxBytes = 1 << 20
	b.ledger.Size, b.ledger.Backlog = 6000, 0
	mfs = scrape(t, url)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wardgate_attestations_total", []string{"outcome", "pass"}, 2},
		{"wardgate_attestations_total", []string{"outcome", "fail"}, 1},
		{"wardgate_anchor_errors_total", nil, 1},
		{"wardgate_admitted_peers", nil, 2},
		{"wardgate_tunnel_bytes", []string{"peer", "hospital-b", "direction", "rx"}, 1 << 20},
		{"wardgate_log_size", nil, 6000},
		{"wardgate_anchor_lag_entries", nil, 0},
	} {
		if v := value(t, mfs, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}

	// Two boxes in one process do not share state (no global registry).
	m2 := NewMetrics(newBackend(), slog.New(slog.DiscardHandler))
	m2.Attestation(OutcomeError)
	if mfs, _ := m.Registry().Gather(); !strings.Contains(dump(mfs), `outcome="error"} 0`) {
		t.Error("a second Metrics changed the first one's counters")
	}
}

func dump(mfs []*dto.MetricFamily) string {
	var sb strings.Builder
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&sb, mf)
	}
	return sb.String()
}
