package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardgate/wardgate/gateway/control"
)

// The gauges the Grafana dashboard and the alert rules
// (configs/grafana, configs/prometheus) need beyond pull's: peers by
// state, each admitted peer's verdict expiry, and the journal's health.
var (
	descPeers  = prometheus.NewDesc("wardgate_peers", "Configured peers by state (admitted, revoked, expired, never-admitted, unreachable).", []string{"state"}, nil)
	descExpiry = prometheus.NewDesc("wardgate_peer_verdict_expiry_timestamp_seconds",
		"Unix time at which each admitted peer's verdict expires unless renewed.", []string{"peer"}, nil)
	descJournalErr = prometheus.NewDesc("wardgate_journal_error", "1 if the journal reports an error (records are refused until it is fixed).", nil, nil)
)

// peerStates is every PeerState, so each exports a series from the start.
var peerStates = []control.PeerState{control.PeerAdmitted, control.PeerRevoked, control.PeerExpired, control.PeerNeverAdmitted, control.PeerUnreachable}

// stateCollector reads peers and the ledger at scrape time.
type stateCollector struct{ b control.Backend }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPeers
	ch <- descExpiry
	ch <- descJournalErr
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ps, err := c.b.Peers(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descPeers, err)
	} else {
		n := map[control.PeerState]int{}
		for _, p := range ps {
			n[p.State]++
			if p.State == control.PeerAdmitted && !p.Expiry.IsZero() {
				ch <- prometheus.MustNewConstMetric(descExpiry, prometheus.GaugeValue, float64(p.Expiry.Unix()), p.Name)
			}
		}
		for _, s := range peerStates {
			ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(n[s]), string(s))
		}
	}
	if li, err := c.b.LedgerStatus(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descJournalErr, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descJournalErr, prometheus.GaugeValue, boolGauge(li.JournalError != ""))
	}
}
