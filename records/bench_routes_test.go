package records

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/records/hl7"
	"github.com/wardgate/wardgate/records/route"
)

// BenchmarkDeliveryRoutes measures delivery by route against today's one
// endpoint, in the same run: box st-mary sends records (in process, many
// at once) to city-general, which delivers each to its hospital system
// and countersigns. Each row is one receiving box:
//
//	single http    deliver_url: every record POSTed to one HTTP endpoint (today)
//	single mllp    deliver_mllp: every record to one HL7 engine (today)
//	routed fhir    records.deliver (hl7v2 to the engine, fhir-json to the
//	               HTTP endpoint): FHIR records only
//	routed hl7     the same routes: HL7 v2 messages only
//	routed mixed   the same routes: half FHIR, half HL7
//
// The engine and the HTTP endpoint are this process's own (Go, AA and 201
// at once), so the rows compare wardgate's delivery paths, not hospital
// systems. Records are about 1 KiB.
//
//	make bench-records
//	DELIVBENCH_RECORDS=20000 go test -run '^$' -bench BenchmarkDeliveryRoutes -benchtime 1x -v ./records/
func BenchmarkDeliveryRoutes(b *testing.B) {
	records := benchEnv("DELIVBENCH_RECORDS", 10000)
	conc := benchEnv("DELIVBENCH_CONC", 256)
	f := fixture(b)
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") }}
	engAddr := eng.serve(b)
	ep := &lanEndpoint{}
	epURL := "http://" + serveHTTP(b, ep) + "/fhir"
	routes := []Route{
		{Name: "hl7", Match: route.Match{Content: route.HL7v2}, Endpoint: Endpoint{URL: "mllp://" + engAddr}},
		{Name: "fhir", Match: route.Match{Content: route.FHIRJSON}, Endpoint: Endpoint{URL: epURL}},
	}
	boxes := map[string]func(*Config){
		"single-http": func(c *Config) { c.Deliver = Delivery{HTTPURL: epURL} },
		"single-mllp": func(c *Config) { c.Deliver = Delivery{MLLPAddr: engAddr} },
		"routed":      func(c *Config) { c.Routes = routes },
	}
	senders := map[string]*recBox{}
	for name, mod := range boxes {
		n := &recNet{addrs: map[string]string{}}
		a := newRecBox(b, n, "st-mary", Delivery{}, func(c *Config) { c.Logger = testutil.QuietLogger() })
		r := newRecBox(b, n, "city-general", Delivery{}, func(c *Config) { mod(c); c.Logger = testutil.QuietLogger(); c.ForwardTimeout = time.Minute })
		admit(b, f, a, r)
		senders[name] = a
	}
	rows := []struct {
		name, box, metric string
		hl7Share          int // in tenths
	}{
		{"single http (today), FHIR", "single-http", "single-http-rec/s", 0},
		{"routed, FHIR route", "routed", "routed-fhir-rec/s", 0},
		{"single mllp (today), HL7", "single-mllp", "single-mllp-rec/s", 10},
		{"routed, HL7 route", "routed", "routed-hl7-rec/s", 10},
		{"routed, mixed 50/50", "routed", "routed-mixed-rec/s", 5},
	}
	var seq atomic.Uint64
	b.ResetTimer()
	for range b.N {
		for _, w := range rows { // warm connections and pools
			deliverBench(b, senders[w.box], 2*conc, conc, w.hl7Share, &seq)
		}
		b.Logf("%d records per row, %d at once, GOMAXPROCS=%d", records, conc, runtime.GOMAXPROCS(0))
		b.Logf("%-28s %10s", "receiving box", "records/s")
		for _, w := range rows {
			rate := deliverBench(b, senders[w.box], records, conc, w.hl7Share, &seq)
			b.Logf("%-28s %10.0f", w.name, rate)
			b.ReportMetric(rate, w.metric)
		}
	}
}

// deliverBench sends n records from a at conc at once, hl7Share tenths of
// them HL7 v2, and returns records per second.
func deliverBench(b *testing.B, a *recBox, n, conc, hl7Share int, seq *atomic.Uint64) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				i := seq.Add(1)
				ct, body := "application/fhir+json", fhirRecord(i)
				if int(i%10) < hl7Share {
					ct, body = hl7.HL7ContentType, hl7Record(i)
				}
				if _, err := a.r.Send(context.Background(), "city-general", ct, body); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// fhirRecord is a FHIR Observation of about 1 KiB, unique by i.
func fhirRecord(i uint64) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Observation","id":"bench-%d","status":"final","code":{"text":"glucose"},"note":[{"text":"%0900d"}]}`, i, i)
}

// hl7Record is an HL7 v2 ORU^R01 of about 1 KiB, unique by i.
func hl7Record(i uint64) []byte {
	return fmt.Appendf(nil, "MSH|^~\\&|LIS|STMARY|LAB|CITYGEN|20261203120000||ORU^R01|B%d|P|2.5\rPID|1||MRN%d\rOBX|1|ST|NOTE||%0900d\r", i, i, i)
}

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
