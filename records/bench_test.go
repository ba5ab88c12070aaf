package records

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRelayLoopback: 1 KiB records through two relays over loopback
// TCP (no tunnel): LAN intake, sign, journal (fsync), forward, verify,
// deliver over HTTP, journal, countersign, receipt. With the plain HTTP POST
// to the same hospital endpoint as the baseline (BenchmarkRelayLoopback/baseline),
// the difference is what wardgate's record path costs on top of HTTP.
// The tunnel's share is measured by integration's BenchmarkRecords.
func BenchmarkRelayLoopback(b *testing.B) {
	p := newRecPair(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
	var seq atomic.Uint64
	record := func() []byte {
		rec := make([]byte, 1024)
		rand.Read(rec[8:40])
		binary.BigEndian.PutUint64(rec, seq.Add(1))
		return rec
	}
	epURL := p.b.r.cfg.Deliver.HTTPURL
	run := func(b *testing.B, url string, to bool) {
		b.SetParallelism(32)
		b.SetBytes(1024)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(record()))
				req.Header.Set("Content-Type", "application/fhir+json")
				if to {
					req.Header.Set("To", "city-general")
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					b.Errorf("POST %s: %s", url, resp.Status)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	}
	b.Run("baseline", func(b *testing.B) { run(b, epURL, false) })
	b.Run("wardgate", func(b *testing.B) { run(b, p.a.lanURL+"/v1/records", true) })
}
