package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options are wardgate-relay's settings: all of its state, with the files
// they name.
type Options struct {
	Listen  string   // host:port for the boxes, e.g. :443
	Cert    string   // the relay's certificate (PEM)
	Key     string   // its key (PEM)
	CA      string   // the consortium's relay CA, which issued the boxes' certificates
	Allowed []string // the consortium's boxes
	Metrics string   // host:port for Prometheus metrics; empty: none
	Logger  *slog.Logger
}

// Run serves the relay until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Listen == "" {
		return errors.New("relay: --listen is empty; give host:port, e.g. :443")
	}
	tc, err := LoadTLS(o.Cert, o.Key, o.CA)
	if err != nil {
		return fmt.Errorf("relay: --cert/--key/--ca: %w", err)
	}
	srv, err := NewServer(ServerConfig{TLS: tc, Allowed: o.Allowed, Logger: o.Logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("relay: --listen: %w", err)
	}
	if o.Metrics != "" {
		stop, err := serveMetrics(o.Metrics, srv)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	srv.log.Info("relay ready", "listen", ln.Addr().String(), "boxes", len(o.Allowed), "metrics", o.Metrics)
	return srv.Serve(ctx, ln)
}

// serveMetrics serves the relay's counters and its process's CPU time
// (process_cpu_seconds_total: the benchmark's CPU per byte).
func serveMetrics(addr string, srv *Server) (func(), error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(serverMetrics{srv}, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("relay: --metrics: %w", err)
	}
	hs := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	return func() { hs.Close() }, nil
}

type serverMetrics struct{ s *Server }

var (
	descConnected = prometheus.NewDesc("wardgate_relay_boxes_connected", "Boxes connected to the relay now.", nil, nil)
	descFrames    = prometheus.NewDesc("wardgate_relay_frames_forwarded_total", "Frames forwarded between boxes.", nil, nil)
	descBytes     = prometheus.NewDesc("wardgate_relay_forwarded_bytes_total", "Payload bytes forwarded (ciphertext only).", nil, nil)
	descRefused   = prometheus.NewDesc("wardgate_relay_refused_total", "Connections refused (TLS, certificate, not in the consortium).", nil, nil)
	descDropped   = prometheus.NewDesc("wardgate_relay_dropped_total", "Frames dropped on full queues of connected boxes.", nil, nil)
)

func (m serverMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descFrames, descBytes, descRefused, descDropped} {
		ch <- d
	}
}

func (m serverMetrics) Collect(ch chan<- prometheus.Metric) {
	st := m.s.Stats()
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, float64(len(st.Connected)))
	ch <- prometheus.MustNewConstMetric(descFrames, prometheus.CounterValue, float64(st.FramesForwarded))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(st.BytesForwarded))
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(st.Refused))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
}
