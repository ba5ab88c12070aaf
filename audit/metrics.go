package audit

import "github.com/prometheus/client_golang/prometheus"

var (
	descEmitted   = prometheus.NewDesc("wardgate_audit_events_total", "Audit events recorded by this box (all kinds).", nil, nil)
	descSent      = prometheus.NewDesc("wardgate_audit_sent_total", "Audit messages written to the syslog receiver.", nil, nil)
	descDropped   = prometheus.NewDesc("wardgate_audit_dropped_total", "Audit messages dropped from the syslog stream because the receiver was away and the buffer (audit.buffer) was full.", nil, nil)
	descQueued    = prometheus.NewDesc("wardgate_audit_queued", "Audit messages waiting for the syslog receiver.", nil, nil)
	descConnected = prometheus.NewDesc("wardgate_audit_connected", "1 while the box holds a TLS connection to the syslog receiver (0 also when none is configured).", nil, nil)
)

// Collector exports the Log's counters; register it on the box's registry.
func (l *Log) Collector() prometheus.Collector { return collector{l} }

type collector struct{ l *Log }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEmitted, descSent, descDropped, descQueued, descConnected} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.l.st
	ch <- prometheus.MustNewConstMetric(descEmitted, prometheus.CounterValue, float64(st.emitted.Load()))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.sent.Load()))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(len(c.l.q)))
	connected := 0.0
	if st.connected.Load() {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, connected)
}
