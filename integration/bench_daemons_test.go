package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// BenchmarkRecordsDaemons runs the record path as it is deployed: boxes a
// and b are wardgated processes (simulated TPMs, attested tunnel, the
// embedded dev chain in a, anchoring on), and this process plays the
// hospitals: a's EHR hands 1 KiB FHIR resources to a's LAN API, and b's
// EHR (the cluster's sink) takes the deliveries. It reports the wall-clock
// rate on this machine, where both boxes and the hospitals share the two
// cores, and each box's own CPU per record (from /proc), which gives the
// rate one box sustains on two cores of its own. userspace runs netstack
// tunnels on loopback; tun (root) runs kernel TUN devices in network
// namespaces.
//
//	go test -run '^$' -bench RecordsDaemons -benchtime 1x -v ./integration/
//	RECBENCH_RECORDS=60000 go test -run '^$' -bench 'RecordsDaemons/tun' -benchtime 1x -v ./integration/
func BenchmarkRecordsDaemons(b *testing.B) {
	for _, mode := range []cluster.Mode{cluster.Userspace, cluster.Tun} {
		for _, fhirBatch := range []bool{false, true} {
			name := string(mode)
			if fhirBatch {
				name += "-fhir-batch"
			}
			b.Run(name, func(b *testing.B) {
				if mode == cluster.Tun {
					requireRoot(b)
				}
				benchDaemons(b, mode, fhirBatch)
			})
		}
	}
}

// benchDaemons runs one configuration; with fhirBatch, b delivers FHIR
// records to its EHR in batch Bundles (records.deliver_fhir_batch).
func benchDaemons(b *testing.B, mode cluster.Mode, fhirBatch bool) {
	records := recBenchEnv("RECBENCH_RECORDS", 20000)
	conc := recBenchEnv("RECBENCH_CONC", 512)
	bulk := recBenchEnv("RECBENCH_BULK", 256)
	bulkConc := recBenchEnv("RECBENCH_BULK_CONC", 8)
	interval := 2 * time.Second
	if v := os.Getenv("RECBENCH_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("RECBENCH_INTERVAL: %v", err)
		}
		interval = d
	}
	c := newClusterEvery(b, interval, mode, []string{"a", "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	A, B := c.Box("a"), c.Box("b")
	if fhirBatch {
		if err := B.SetConfig("records.deliver_fhir_batch", true); err != nil {
			b.Fatal(err)
		}
	}
	startPair(ctx, b, A, B)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024, DisableCompression: true, TLSClientConfig: A.LANTLSConfig()}}
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	mk := func(n int) [][]byte {
		recs := make([][]byte, n)
		for i := range recs {
			rec := fmt.Appendf(make([]byte, 0, 1024), `{"resourceType":"Observation","id":"d%d-%d","status":"final","note":"`, time.Now().UnixNano(), seq.Add(1))
			for len(rec) < 1022 {
				rec = append(rec, 'a'+byte(len(rec)%26))
			}
			recs[i] = append(rec, '"', '}')
		}
		return recs
	}
	post := func(recs [][]byte) error {
		_, err := lanPost(ctx, client, A.LAN(), "b", recs)
		return err
	}
	type result struct {
		loadResult
		cpuA, cpuB time.Duration // per record
	}
	run := func(n, conc, group int) result {
		a0, err := A.CPU()
		if err != nil {
			b.Fatal(err)
		}
		b0, _ := B.CPU()
		l := runLoad(mk(n), conc, group, post)
		if l.err != nil {
			b.Fatalf("record failed: %v", l.err)
		}
		a1, _ := A.CPU()
		b1, _ := B.CPU()
		return result{loadResult: l, cpuA: (a1 - a0) / time.Duration(n), cpuB: (b1 - b0) / time.Duration(n)}
	}
	// The first record also waits out the tunnel's first WireGuard
	// handshake; retry it until the path is up, as a hospital system would.
	for try := 0; ; try++ {
		err := post(mk(1))
		if err == nil {
			break
		}
		if try == 20 {
			b.Fatalf("no record gets through: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// What the boxes burn with no records (a serves the dev chain; both
	// re-attest and checkpoint): at a low record rate it is much of their
	// CPU per record.
	idleA0, _ := A.CPU()
	idleB0, _ := B.CPU()
	time.Sleep(3 * time.Second)
	idleA1, _ := A.CPU()
	idleB1, _ := B.CPU()
	b.Logf("idle: a %.0f%% of a core, b %.0f%%", float64(idleA1-idleA0)/float64(30*time.Millisecond), float64(idleB1-idleB0)/float64(30*time.Millisecond))
	before := len(c.Sink.Deliveries("b"))
	run(2*conc, conc, 1) // warm: connections, the first batches
	b.ResetTimer()
	per := run(records, conc, 1)
	bul := run(records, bulkConc, bulk)
	lat4 := run(2000, 4, 1)
	lat1 := run(2000, 1, 1)
	b.StopTimer()
	if got, want := len(c.Sink.Deliveries("b"))-before, 2*conc+2*records+4000; got != want {
		b.Fatalf("b's EHR received %d records, want %d", got, want)
	}
	if mode == cluster.Tun {
		defer benchTunnelBaseline(ctx, b, A, B, mk, records, conc, per.loadResult, lat4.loadResult, lat1.loadResult)
	}
	capacity := func(d time.Duration) float64 { return 2 * float64(time.Second) / float64(d) }
	b.Logf("%s mode (b delivers in FHIR batch Bundles: %v), 1 KiB FHIR records, %d per run; CPU per record is each wardgated's own (/proc)", mode, fhirBatch, records)
	b.Logf("%-40s %10s %9s %9s %10s %10s", "intake", "records/s", "p50", "p99", "a CPU/rec", "b CPU/rec")
	for _, r := range []struct {
		name string
		res  result
	}{{fmt.Sprintf("POST per record, %d senders", conc), per}, {fmt.Sprintf("bulk %d/request, %d senders", bulk, bulkConc), bul},
		{"POST per record, 4 senders", lat4}, {"POST per record, 1 sender", lat1}} {
		b.Logf("%-40s %10.0f %9s %9s %10s %10s", r.name, r.res.rate, r.res.p50, r.res.p99, r.res.cpuA, r.res.cpuB)
	}
	b.Logf("one box on 2 cores of its own: per record %0.f sending / %.0f receiving records/s; bulk %.0f sending / %.0f receiving records/s",
		capacity(per.cpuA), capacity(per.cpuB), capacity(bul.cpuA), capacity(bul.cpuB))
	b.ReportMetric(per.rate, "records/s")
	b.ReportMetric(bul.rate, "bulk-records/s")
	b.ReportMetric(capacity(bul.cpuA), "bulk-sender-capacity-records/s")
	b.ReportMetric(capacity(bul.cpuB), "bulk-receiver-capacity-records/s")
	b.ReportMetric(float64(lat1.p99)/1e6, "p99-ms-1-sender")
	b.ReportMetric(float64(lat4.p99)/1e6, "p99-ms-4-senders")
}

// benchTunnelBaseline measures, in tun mode, the same POSTs sent straight
// through the same tunnel (tunnelBaseline), and reports what wardgate adds
// over it. The baseline's bytes must show in a's WireGuard counters for b,
// or it did not cross the tunnel.
func benchTunnelBaseline(ctx context.Context, b *testing.B, A, B *cluster.Box, mk func(int) [][]byte, records, conc int, per, lat4, lat1 loadResult) {
	base := newTunnelBaseline(b, A, B)
	post := func(recs [][]byte) error { return base.post(ctx, recs) }
	p0, err := A.Peers(ctx)
	if err != nil {
		b.Fatal(err)
	}
	runLoad(mk(2*conc), conc, 1, post) // warm
	var res [3]loadResult
	for i, r := range []struct{ n, conc int }{{records, conc}, {2000, 4}, {2000, 1}} {
		if res[i] = runLoad(mk(r.n), r.conc, 1, post); res[i].err != nil {
			b.Fatalf("baseline: %v", res[i].err)
		}
	}
	p1, err := A.Peers(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if sent := p1["b"].TxBytes - p0["b"].TxBytes; sent < uint64(records+4000)*1024 {
		b.Fatalf("a's tunnel to b carried %d bytes during the baseline, less than its %d records", sent, records+4000)
	}
	b.Logf("plain tunnel (same TUN devices and WireGuard, no relay), POST per record:")
	b.Logf("%-40s %10s %9s %9s", "senders", "records/s", "p50", "p99")
	for i, name := range []string{fmt.Sprint(conc), "4", "1"} {
		b.Logf("%-40s %10.0f %9s %9s", name, res[i].rate, res[i].p50, res[i].p99)
	}
	b.Logf("wardgate/plain tunnel, POST per record at %d senders: %.2f", conc, per.rate/res[0].rate)
	b.Logf("added by wardgate: p99 %s at 4 senders, %s at 1 sender (p50 %s and %s); target p99 added < 5ms",
		lat4.p99-res[1].p99, lat1.p99-res[2].p99, lat4.p50-res[1].p50, lat1.p50-res[2].p50)
	b.ReportMetric(float64(lat4.p99-res[1].p99)/1e6, "p99-added-ms-4-senders")
	b.ReportMetric(float64(lat1.p99-res[2].p99)/1e6, "p99-added-ms-1-sender")
}
