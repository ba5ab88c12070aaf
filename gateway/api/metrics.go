package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardgate/wardgate/gateway/control"
)

// Attestation outcomes for Metrics.Attestation.
const (
	OutcomePass  = "pass"
	OutcomeFail  = "fail"
	OutcomeError = "error" // the exchange itself failed (peer unreachable, timeout)
)

// Metrics is the box's Prometheus registry. Gauges (admitted peers, tunnel
// bytes, log size, anchor lag) are read from the Backend at scrape time, so
// they cannot drift from what `wardgate status` shows; the two counters are
// events the daemon reports as they happen. There is no global registry.
type Metrics struct {
	reg          *prometheus.Registry
	attestations *prometheus.CounterVec
	anchorErrors prometheus.Counter
	log          *slog.Logger
}

// NewMetrics creates the registry and registers the wardgate metrics, the
// Go runtime and the process collectors.
func NewMetrics(b control.Backend, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.Default()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		attestations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardgate_attestations_total",
			Help: "Appraisals of peers' evidence by this box, by outcome (pass, fail, error).",
		}, []string{"outcome"}),
		anchorErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardgate_anchor_errors_total",
			Help: "Failed attempts to anchor a checkpoint on chain.",
		}),
		log: log.With("component", "metrics"),
	}
	for _, o := range []string{OutcomePass, OutcomeFail, OutcomeError} {
		m.attestations.WithLabelValues(o) // export zeros so rate() works from the start
	}
	m.reg.MustRegister(m.attestations, m.anchorErrors, &pull{b: b, log: m.log}, stateCollector{b: b},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Attestation counts one appraisal with its outcome (OutcomePass, OutcomeFail, OutcomeError).
func (m *Metrics) Attestation(outcome string) { m.attestations.WithLabelValues(outcome).Inc() }

// AnchorError counts one failed anchoring attempt.
func (m *Metrics) AnchorError() { m.anchorErrors.Inc() }

// Registry is the registry, for callers that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry: m.reg, ErrorHandling: promhttp.ContinueOnError, ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		Timeout: 10 * time.Second,
	}))
	return mux
}

// Serve serves /metrics (plain HTTP) on ln until ctx is done.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10,
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	return serve(ctx, srv, ln, m.log, "metrics")
}

var (
	descAdmitted = prometheus.NewDesc("wardgate_admitted_peers", "Peers currently admitted to the tunnel on a passing verdict.", nil, nil)
	descBytes    = prometheus.NewDesc("wardgate_tunnel_bytes", "Bytes through the tunnel per peer and direction (rx, tx) since the peer was added.", []string{"peer", "direction"}, nil)
	descLogSize  = prometheus.NewDesc("wardgate_log_size", "Entries in this box's record log.", nil, nil)
	descLag      = prometheus.NewDesc("wardgate_anchor_lag_entries", "Log entries not yet covered by an anchored checkpoint.", nil, nil)
	descChainUp  = prometheus.NewDesc("wardgate_chain_connected", "1 if the last anchoring attempt reached the chain.", nil, nil)
	descStalled  = prometheus.NewDesc("wardgate_chain_stalled", "1 if the last anchor waited on a chain that sealed no block meanwhile (too few validators up).", nil, nil)
	descEndpoint = prometheus.NewDesc("wardgate_chain_endpoint_healthy", "1 if the chain rpc endpoint answered its last call or probe (rpc mode).", []string{"url"}, nil)
	descActive   = prometheus.NewDesc("wardgate_chain_endpoint_active", "1 for the chain rpc endpoint calls go to now (rpc mode).", []string{"url"}, nil)
)

// pull reads gauges from the Backend at scrape time.
type pull struct {
	b   control.Backend
	log *slog.Logger
}

func (p *pull) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAdmitted, descBytes, descLogSize, descLag, descChainUp, descStalled, descEndpoint, descActive} {
		ch <- d
	}
}

func (p *pull) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ps, err := p.b.Peers(ctx); err != nil {
		p.log.Warn("metrics: reading peers", "err", err)
		ch <- prometheus.NewInvalidMetric(descAdmitted, err)
	} else {
		admitted := 0
		for _, pe := range ps {
			if pe.State == control.PeerAdmitted {
				admitted++
			}
			ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(pe.RxBytes), pe.Name, "rx")
			ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(pe.TxBytes), pe.Name, "tx")
		}
		ch <- prometheus.MustNewConstMetric(descAdmitted, prometheus.GaugeValue, float64(admitted))
	}
	if li, err := p.b.LedgerStatus(ctx); err != nil {
		p.log.Warn("metrics: reading ledger status", "err", err)
		ch <- prometheus.NewInvalidMetric(descLogSize, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descLogSize, prometheus.GaugeValue, float64(li.Size))
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(li.Backlog))
		up := 0.0
		if li.ChainConnected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descChainUp, prometheus.GaugeValue, up)
		ch <- prometheus.MustNewConstMetric(descStalled, prometheus.GaugeValue, boolGauge(li.ChainStalled))
		for _, e := range li.Endpoints {
			ch <- prometheus.MustNewConstMetric(descEndpoint, prometheus.GaugeValue, boolGauge(e.Healthy), e.URL)
			ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, boolGauge(e.Active), e.URL)
		}
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
