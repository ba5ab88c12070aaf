package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardgate/wardgate/records"
)

// relayCollector exports the record relay's counters at scrape time.
type relayCollector struct{ r *records.Relay }

var (
	descRecords = prometheus.NewDesc("wardgate_records_total",
		"Records by event: sent (forwarded and countersigned), received (from peers, delivered and journaled), refused (sends refused or failed), delivery_failed (records from peers this box's LAN endpoint did not take).",
		[]string{"event"}, nil)
	descRecordBytes = prometheus.NewDesc("wardgate_record_bytes_total", "Record body bytes, by direction (sent, received).", []string{"direction"}, nil)
	descBatches     = prometheus.NewDesc("wardgate_peer_batches_total", "Batches of records sent to peers through the tunnel.", nil, nil)
	descBatchRecs   = prometheus.NewDesc("wardgate_peer_batch_records_total", "Records those batches carried (divide by wardgate_peer_batches_total for the mean batch).", nil, nil)
)

// newJournalSyncHistogram times the journal's write-ahead log fdatasyncs:
// every acknowledged record waits for one, so its tail is the commit
// latency a disk can add (buckets 100 µs to ~3 s).
func newJournalSyncHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "wardgate_journal_sync_seconds",
		Help:    "Latency of the journal's write-ahead log fdatasync, one per group commit.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
}

func (c relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descRecordBytes, descBatches, descBatchRecs} {
		ch <- d
	}
}

func (c relayCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	for ev, v := range map[string]uint64{"sent": s.Sent, "received": s.Received, "refused": s.Refused, "delivery_failed": s.DeliveryFailed} {
		ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(v), ev)
	}
	ch <- prometheus.MustNewConstMetric(descRecordBytes, prometheus.CounterValue, float64(s.BytesSent), "sent")
	ch <- prometheus.MustNewConstMetric(descRecordBytes, prometheus.CounterValue, float64(s.BytesReceived), "received")
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(s.Batches))
	ch <- prometheus.MustNewConstMetric(descBatchRecs, prometheus.CounterValue, float64(s.BatchRecords))
}
