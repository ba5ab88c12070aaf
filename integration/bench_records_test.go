package integration

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records"
	"github.com/wardgate/wardgate/records/receipt"
	"github.com/wardgate/wardgate/tunnel"
)

// BenchmarkRecords measures the record path end to end on one machine: a
// hospital system POSTs 1 KiB FHIR records to box A's LAN API; A signs,
// journals and forwards them through a real userspace WireGuard tunnel (two
// netstack tunnel.Devices over loopback UDP, admitted from real verdicts) to
// box B, which verifies, delivers each to its hospital endpoint over HTTP,
// journals and countersigns; A answers with the receipts. The baseline, in
// the same run, POSTs the same requests straight through the same tunnel to
// B's hospital endpoint, without wardgate's signing, journaling and
// receipts.
//
// Two intakes are measured: one POST per record (/v1/records), and bulk
// NDJSON (/v1/records/bulk, RECBENCH_BULK records a request). Throughput is
// measured with many concurrent senders (saturation); latency with a few,
// one record a request (so that it is the path's latency, not queueing).
// Everything, the hospital systems included, shares this process's cores.
//
//	make bench-records
//	RECBENCH_RECORDS=50000 RECBENCH_CONC=1024 go test -run '^$' -bench BenchmarkRecords -benchtime 1x -v ./integration/
func BenchmarkRecords(b *testing.B) {
	records := recBenchEnv("RECBENCH_RECORDS", 20000)
	conc := recBenchEnv("RECBENCH_CONC", 512)
	bulk := recBenchEnv("RECBENCH_BULK", 256)
	bulkConc := recBenchEnv("RECBENCH_BULK_CONC", 8)
	latConc := recBenchEnv("RECBENCH_LAT_CONC", 4)
	latRecords := recBenchEnv("RECBENCH_LAT_RECORDS", 3000)
	// The boxes run with wardgated's GC settings (cmd/wardgated tuneGC).
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(1 << 30))
	}
	env := newRecBenchEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Warm both paths (connections, handshakes) before measuring.
		env.run(b, env.baselinePost, 2*conc, conc, 1)
		env.run(b, env.wardgatePost, 2*conc, conc, 1)

		// RECBENCH_ONLY=bulk or =record runs that wardgate path alone (for profiling and tuning).
		if only := os.Getenv("RECBENCH_ONLY"); only == "bulk" || only == "record" {
			post, c, g := env.wardgateBulk, bulkConc, bulk
			if only == "record" {
				post, c, g = env.wardgatePost, conc, 1
			}
			var r recBenchResult
			split, err := profileParts(only, func() { r = env.run(b, post, records, c, g) })
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("wardgate %s: %.0f records/s, %s CPU/record", only, r.rate, r.cpu)
			env.logSplit(b, only, split, records)
			continue
		}
		base := env.run(b, env.baselinePost, records, conc, 1)
		var ward, wardBulk recBenchResult
		wardSplit, err := profileParts("record", func() { ward = env.run(b, env.wardgatePost, records, conc, 1) })
		if err != nil {
			b.Fatal(err)
		}
		baseBulk := env.run(b, env.baselineBulk, records, bulkConc, bulk)
		bulkSplit, err := profileParts("bulk", func() { wardBulk = env.run(b, env.wardgateBulk, records, bulkConc, bulk) })
		if err != nil {
			b.Fatal(err)
		}
		// The same bulk with B delivering FHIR batch Bundles (deliver_fhir_batch).
		var wardFHIR recBenchResult
		env.b.cur.Store(env.bBatch.PeerHandler())
		fhirSplit, err := profileParts("bulk-fhir-batch", func() { wardFHIR = env.run(b, env.wardgateBulk, records, bulkConc, bulk) })
		env.b.cur.Store(env.b.r.PeerHandler())
		if err != nil {
			b.Fatal(err)
		}
		baseLat := env.run(b, env.baselinePost, latRecords, latConc, 1)
		wardLat := env.run(b, env.wardgatePost, latRecords, latConc, 1)
		baseLat1 := env.run(b, env.baselinePost, latRecords, 1, 1)
		wardLat1 := env.run(b, env.wardgatePost, latRecords, 1, 1)
		b.Logf("1 KiB records, %d records per run, GOMAXPROCS=%d", records, recBenchProcs())
		b.Logf("%-44s %10s %9s %9s %11s", "path", "records/s", "p50", "p99", "CPU/record")
		row := func(name string, r recBenchResult) {
			b.Logf("%-44s %10.0f %9s %9s %11s", name, r.rate, r.p50, r.p99, r.cpu)
		}
		row(fmt.Sprintf("baseline, POST per record, %d senders", conc), base)
		row(fmt.Sprintf("wardgate, POST per record, %d senders", conc), ward)
		row(fmt.Sprintf("baseline, bulk %d/request, %d senders", bulk, bulkConc), baseBulk)
		row(fmt.Sprintf("wardgate, bulk %d/request, %d senders", bulk, bulkConc), wardBulk)
		row("  ... b delivering FHIR batch Bundles", wardFHIR)
		row(fmt.Sprintf("baseline, POST per record, %d senders", latConc), baseLat)
		row(fmt.Sprintf("wardgate, POST per record, %d senders", latConc), wardLat)
		row("baseline, POST per record, 1 sender", baseLat1)
		row("wardgate, POST per record, 1 sender", wardLat1)
		b.Logf("per record: wardgate/baseline = %.2f; bulk: wardgate/baseline = %.2f", ward.rate/base.rate, wardBulk.rate/baseBulk.rate)
		b.Logf("added by wardgate: p99 %s at %d senders, %s at 1 sender (p50 %s and %s)",
			wardLat.p99-baseLat.p99, latConc, wardLat1.p99-baseLat1.p99, wardLat.p50-baseLat.p50, wardLat1.p50-baseLat1.p50)
		b.Logf("targets: >= 20000 records/s; p99 added < 5ms")
		env.logSplit(b, "POST per record", wardSplit, records)
		env.logSplit(b, "bulk", bulkSplit, records)
		env.logSplit(b, "bulk with FHIR batch delivery", fhirSplit, records)
		b.ReportMetric(ward.rate, "records/s")
		b.ReportMetric(wardBulk.rate, "bulk-records/s")
		b.ReportMetric(wardFHIR.rate, "bulk-fhir-batch-records/s")
		b.ReportMetric(base.rate, "baseline-records/s")
		b.ReportMetric(baseBulk.rate, "baseline-bulk-records/s")
		b.ReportMetric(float64(ward.cpu)/1e3, "cpu-us/record")
		b.ReportMetric(float64(wardBulk.cpu)/1e3, "bulk-cpu-us/record")
		b.ReportMetric(float64(base.cpu)/1e3, "baseline-cpu-us/record")
		b.ReportMetric(float64(wardLat.p50)/1e6, "p50-ms")
		b.ReportMetric(float64(wardLat.p99)/1e6, "p99-ms")
		b.ReportMetric(float64(baseLat.p99)/1e6, "baseline-p99-ms")
		b.ReportMetric(float64(wardLat.p99-baseLat.p99)/1e6, "p99-added-ms")
		b.ReportMetric(float64(wardLat1.p99-baseLat1.p99)/1e6, "p99-added-ms-1-sender")
	}
	b.StopTimer()
	env.check(b)
}

// logSplit reports a run's CPU per record by part, and the rate each box
// would sustain on GOMAXPROCS cores of its own (unlabelled runtime work, the
// GC mostly, shared out in proportion).
func (e *recBenchEnvT) logSplit(b *testing.B, name string, s cpuSplit, n int) {
	if s == nil {
		b.Logf("%s: no CPU split (a CPU profile is already running)", name)
		return
	}
	var labelled time.Duration
	for part, d := range s {
		if part != "runtime" {
			labelled += d
		}
	}
	per := func(part string) float64 {
		d := s[part]
		if labelled > 0 {
			d += time.Duration(float64(s["runtime"]) * float64(d) / float64(labelled))
		}
		return float64(d.Microseconds()) / float64(n)
	}
	a, bb, h := per(e.a.name), per(e.b.name), per("hospital")
	b.Logf("%s, CPU per record by part (GC shared out): sending box %.0fµs, receiving box %.0fµs, hospital systems %.0fµs", name, a, bb, h)
	b.Logf("%s, one box on %d cores of its own: %.0f records/s sending, %.0f records/s receiving", name, recBenchProcs(),
		float64(recBenchProcs())*1e6/a, float64(recBenchProcs())*1e6/bb)
	b.ReportMetric(float64(recBenchProcs())*1e6/a, strings.ReplaceAll(name, " ", "-")+"-sender-capacity-records/s")
	b.ReportMetric(float64(recBenchProcs())*1e6/bb, strings.ReplaceAll(name, " ", "-")+"-receiver-capacity-records/s")
}

func recBenchProcs() int { return runtime.GOMAXPROCS(0) }

func recBenchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// recBenchBox is one hospital box: a netstack tunnel device, a ledger and a relay.
type recBenchBox struct {
	name   string
	addr   netip.Addr
	dev    *tunnel.Device
	signer *proof.KeySigner
	l      *ledger.Ledger
	r      *records.Relay
	cur    atomic.Value // http.Handler: the peer handler of the relay its tunnel listener serves
	peers  *recBenchVerdicts
}

type recBenchVerdicts struct {
	mu sync.Mutex
	m  map[string]*attest.Verdict
}

func (v *recBenchVerdicts) Verdict(peer string) *attest.Verdict {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[peer]
}

type recBenchEnvT struct {
	a, b      *recBenchBox
	lanA      string         // A's LAN API (loopback), http://host:port
	bBatch    *records.Relay // B delivering in FHIR batch Bundles
	endpoint  string         // B's hospital endpoint through the tunnel (baseline)
	delivered atomic.Int64
	lanClient *http.Client // hospital system -> A, over loopback
	tunClient *http.Client // baseline: hospital system -> tunnel -> B's endpoint
	seq       atomic.Uint64
	sample    struct {
		mu   sync.Mutex
		body []byte
		rc   []byte
	}
}

const recBenchRelayPort = 7100
const recBenchEndpointPort = 7200

func newRecBenchBox(b *testing.B, f *attesttest.Fixture, name string, addr netip.Addr) (box *recBenchBox) {
	b.Helper()
	// Everything the box starts runs labelled with its name (bench_cpu_test.go).
	withPart(name, func() { box = openRecBenchBox(b, f, name, addr) })
	return box
}

func openRecBenchBox(b *testing.B, f *attesttest.Fixture, name string, addr netip.Addr) *recBenchBox {
	ctx := context.Background()
	dev, err := tunnel.New(ctx, tunnel.Config{Name: name, Mode: tunnel.ModeUserspace, Address: netip.PrefixFrom(addr, 32),
		StateDir: b.TempDir(), Sealer: f.TPM(), Logger: testutil.EnvLogger()})
	if err != nil {
		b.Fatalf("tunnel %s: %v", name, err)
	}
	b.Cleanup(func() { dev.Close() })
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, err := proof.NewKeySigner(priv)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(ctx, ledger.Config{Box: name, StateDir: b.TempDir(), Signer: signer, CheckpointEachCommit: true, Logger: testutil.EnvLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return &recBenchBox{name: name, addr: addr, dev: dev, signer: signer, l: l, peers: &recBenchVerdicts{m: map[string]*attest.Verdict{}}}
}

func (x *recBenchBox) peerConfig() tunnel.PeerConfig {
	return tunnel.PeerConfig{Name: x.name, PublicKey: x.dev.PublicKey(),
		Endpoint:   netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(x.dev.ListenPort())),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(x.addr, 32)}}
}

// admit makes x admit peer from a real passing verdict, in the tunnel and the relay.
func (x *recBenchBox) admit(b *testing.B, f *attesttest.Fixture, peer *recBenchBox) {
	v := f.Pass(b, peer.name, peer.dev.PublicKey(), peer.signer.Public(), time.Hour)
	var err error
	withPart(x.name, func() { err = x.dev.Admit(v, peer.peerConfig()) }) // the peer's WireGuard routines are x's
	if err != nil {
		b.Fatalf("%s admits %s: %v", x.name, peer.name, err)
	}
	x.peers.mu.Lock()
	x.peers.m[peer.name] = v
	x.peers.mu.Unlock()
}

// recBenchServe serves h on ln; part labels its CPU time.
func recBenchServe(b *testing.B, part string, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h}
	withPart(part, func() { go srv.Serve(ln) })
	b.Cleanup(func() { srv.Close() })
}

func newRecBenchEnv(b *testing.B) *recBenchEnvT {
	f := attesttest.New(b)
	e := &recBenchEnvT{}
	e.a = newRecBenchBox(b, f, "st-mary", netip.MustParseAddr("10.70.0.1"))
	e.b = newRecBenchBox(b, f, "city-general", netip.MustParseAddr("10.70.0.2"))
	e.a.admit(b, f, e.b)
	e.b.admit(b, f, e.a)

	// B's hospital endpoint: reachable from B on loopback (wardgate delivery)
	// and, for the baseline only, on B's tunnel address.
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Wardgate-Digest") == "" && r.Header.Get("Wardgate-Sender") != "" {
			// A FHIR batch Bundle from B (deliver_fhir_batch): the EHR
			// parses it and answers one status an entry.
			var bundle struct {
				Entry []json.RawMessage `json:"entry"`
			}
			if err := json.NewDecoder(r.Body).Decode(&bundle); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			out := []byte(`{"resourceType":"Bundle","type":"batch-response","entry":[`)
			for i := range bundle.Entry {
				if i > 0 {
					out = append(out, ',')
				}
				out = append(out, `{"response":{"status":"201 Created"}}`...)
			}
			e.delivered.Add(int64(len(bundle.Entry)))
			w.Write(append(out, "]}"...))
			return
		}
		io.Copy(io.Discard, r.Body)
		e.delivered.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	lanLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	recBenchServe(b, "hospital", lanLn, endpoint)
	tunLn, err := e.b.dev.Listen("tcp", fmt.Sprintf(":%d", recBenchEndpointPort))
	if err != nil {
		b.Fatal(err)
	}
	recBenchServe(b, "hospital", tunLn, endpoint)
	e.endpoint = fmt.Sprintf("http://%s:%d/in", e.b.addr, recBenchEndpointPort)

	mk := func(x *recBenchBox, peer *recBenchBox, deliver records.Delivery) *records.Relay {
		peerAddr := fmt.Sprintf("%s:%d", peer.addr, recBenchRelayPort)
		r, err := records.New(records.Config{Box: x.name, Ledger: x.l, RecordKey: x.signer, Verdicts: x.peers, Deliver: deliver,
			Dial: func(ctx context.Context, p string) (net.Conn, error) {
				if p != peer.name {
					return nil, fmt.Errorf("no tunnel route to %q", p)
				}
				return x.dev.DialContext(ctx, "tcp", peerAddr)
			},
			MaxBody: 1 << 20, Logger: testutil.EnvLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return r
	}
	// B's tunnel listener serves whichever of B's two relays is current:
	// one delivering record by record, one in FHIR batch Bundles.
	serveRelay := func(x *recBenchBox) {
		ln, err := x.dev.Listen("tcp", fmt.Sprintf(":%d", recBenchRelayPort))
		if err != nil {
			b.Fatal(err)
		}
		recBenchServe(b, x.name, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			x.cur.Load().(http.Handler).ServeHTTP(w, r)
		}))
	}
	e.a.r = mk(e.a, e.b, records.Delivery{})
	e.a.cur.Store(e.a.r.PeerHandler())
	serveRelay(e.a)
	e.b.r = mk(e.b, e.a, records.Delivery{HTTPURL: "http://" + lanLn.Addr().String() + "/in"})
	e.bBatch = mk(e.b, e.a, records.Delivery{HTTPURL: "http://" + lanLn.Addr().String() + "/fhir", FHIRBatch: true})
	e.b.cur.Store(e.b.r.PeerHandler())
	serveRelay(e.b)

	aLan, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	recBenchServe(b, e.a.name, aLan, e.a.r.LANHandler())
	e.lanA = "http://" + aLan.Addr().String()

	e.lanClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024, DisableCompression: true}}
	e.tunClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024, DisableCompression: true,
		DialContext: e.a.dev.DialContext}}
	b.Cleanup(func() {
		e.lanClient.CloseIdleConnections()
		e.tunClient.CloseIdleConnections()
	})
	return e
}

// record returns a fresh 1 KiB FHIR resource on one line (unique, so every
// digest is new).
func (e *recBenchEnvT) record() []byte {
	rec := fmt.Appendf(make([]byte, 0, 1024), `{"resourceType":"Observation","id":"%d-%x","status":"final","note":"`, e.seq.Add(1), rand.Int64())
	for len(rec) < 1022 {
		rec = append(rec, 'a'+byte(len(rec)%26))
	}
	return append(rec, '"', '}')
}

func ndjson(recs [][]byte) []byte {
	return append(bytes.Join(recs, []byte{'\n'}), '\n')
}

// lanPost hands recs to a box's LAN API at base for peer, as the
// hospital's EHR does (one record a POST, or a bulk NDJSON request for
// more), checks that every record came back countersigned, and returns the
// answer's last receipt.
func lanPost(ctx context.Context, c *http.Client, base, peer string, recs [][]byte) ([]byte, error) {
	url, ct, body := base+"/v1/records", "application/fhir+json", recs[0]
	if len(recs) > 1 {
		url, ct, body = base+"/v1/records/bulk", records.BulkContentType, ndjson(recs)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("To", peer)
	req.Header.Set("Content-Type", ct)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf := bytes.NewBuffer(make([]byte, 0, 4<<10*len(recs))) // a receipt is about 3 KiB
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if resp.StatusCode != http.StatusOK || bytes.Count(out, []byte(`"countersign":{`)) != len(recs) {
		return nil, fmt.Errorf("POST %s (%d records): %s: %.300s", url, len(recs), resp.Status, out)
	}
	if len(recs) == 1 {
		return out, nil
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte{'\n'})
	var last struct {
		Receipt json.RawMessage `json:"receipt"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
		return nil, fmt.Errorf("bulk answer: %w", err)
	}
	return last.Receipt, nil
}

// wardgatePost and wardgateBulk send through wardgate and keep the last
// receipt for check.
func (e *recBenchEnvT) wardgatePost(recs [][]byte) error { return e.wardgateSend(recs[:1]) }

func (e *recBenchEnvT) wardgateBulk(recs [][]byte) error { return e.wardgateSend(recs) }

func (e *recBenchEnvT) wardgateSend(recs [][]byte) error {
	rc, err := lanPost(context.Background(), e.lanClient, e.lanA, "city-general", recs)
	if err != nil {
		return err
	}
	e.sample.mu.Lock()
	e.sample.body, e.sample.rc = recs[len(recs)-1], rc
	e.sample.mu.Unlock()
	return nil
}

func (e *recBenchEnvT) baselinePost(recs [][]byte) error {
	return e.baselineSend(recs[0], "application/fhir+json")
}

func (e *recBenchEnvT) baselineBulk(recs [][]byte) error {
	return e.baselineSend(ndjson(recs), records.BulkContentType)
}

func (e *recBenchEnvT) baselineSend(body []byte, ctype string) error {
	req, _ := http.NewRequest(http.MethodPost, e.endpoint, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	resp, err := e.tunClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("baseline POST: %s", resp.Status)
	}
	return nil
}

type recBenchResult struct {
	rate     float64
	p50, p99 time.Duration
	cpu      time.Duration // process CPU time (user+sys) per record
}

// recBenchCPU is the process's CPU time so far. Other processes on a shared
// machine slow the wall clock but not this, so CPU per record says what the
// path costs even when the rate is depressed by neighbours.
func recBenchCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run sends n records from conc concurrent senders through post, group
// records a request; latency is per request.
func (e *recBenchEnvT) run(b *testing.B, post func([][]byte) error, n, conc, group int) recBenchResult {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = e.record()
	}
	cpu0 := recBenchCPU()
	var l loadResult
	withPart("hospital", func() { l = runLoad(recs, conc, group, post) })
	cpu := (recBenchCPU() - cpu0) / time.Duration(n)
	if l.err != nil {
		b.Fatalf("record failed: %v", l.err)
	}
	return recBenchResult{rate: l.rate, p50: l.p50, p99: l.p99, cpu: cpu.Round(time.Microsecond)}
}

// loadResult is what runLoad measured: the rate, and latency per request.
type loadResult struct {
	rate     float64
	p50, p99 time.Duration
	err      error // the first failed request
}

// runLoad sends recs from conc concurrent senders, group records a
// request, through post (the hospital systems' side of the benchmarks).
func runLoad(recs [][]byte, conc, group int, post func([][]byte) error) loadResult {
	n := len(recs)
	groups := (n + group - 1) / group
	lat := make([]time.Duration, groups)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				g := int(next.Add(1)) - 1
				if g >= groups {
					return
				}
				t0 := time.Now()
				if err := post(recs[g*group : min((g+1)*group, n)]); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[g] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	err, _ := firstErr.Load().(error)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loadResult{rate: float64(n) / el.Seconds(), p50: lat[groups/2].Round(10 * time.Microsecond),
		p99: lat[groups*99/100].Round(10 * time.Microsecond), err: err}
}

// check verifies the last receipt offline against both attested keys, so a
// fast but wrong path cannot pass.
func (e *recBenchEnvT) check(b *testing.B) {
	e.sample.mu.Lock()
	defer e.sample.mu.Unlock()
	var rc receipt.Receipt
	if err := json.Unmarshal(e.sample.rc, &rc); err != nil {
		b.Fatalf("receipt: %v", err)
	}
	if _, err := receipt.VerifyReceipt(context.Background(), &rc, e.a.signer.Public(), e.b.signer.Public(),
		proof.VerifyOptions{Record: e.sample.body}); err != nil {
		b.Fatalf("receipt does not verify: %v", err)
	}
	sent, recv := e.a.l.Status(context.Background()).Size, e.b.l.Status(context.Background()).Size
	if sent != recv || sent == 0 {
		b.Fatalf("sender journaled %d entries, receiver %d", sent, recv)
	}
	b.Logf("verified a receipt offline; %d records journaled on each side, %d deliveries (wardgate + baseline)", sent, e.delivered.Load())
}
