package records

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardgate/wardgate/records/consent"
)

// BenchmarkConsentBulk: bulk NDJSON throughput (256 FHIR Observations a
// request, 8 requests at once, through two relays on loopback) with the
// consent gate off and required, 10,000 consents on file, in the same run.
// The ratio required/off is the gate's cost (issue 17: under 10%). Modes
// alternate over several rounds so drift hits both alike.
func BenchmarkConsentBulk(b *testing.B) {
	const consents, perReq, conc, perRun, rounds = 10000, 256, 8, 20480, 3
	p, g := consentPairB(b)
	for i := range consents {
		if _, err := g.Store.Put(testConsent(fmt.Sprintf("c-%d", i), fmt.Sprintf("pat-%d", i), "org-city", "")); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Uint64
	bulk := func() []byte {
		var buf bytes.Buffer
		for range perReq {
			n := seq.Add(1)
			fmt.Fprintf(&buf, `{"resourceType":"Observation","id":"obs-%d","status":"final","subject":{"reference":"Patient/pat-%d"},"valueString":"%0900d"}`+"\n", n, n%consents, n)
		}
		return buf.Bytes()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := func(mode consent.Mode) float64 {
		g.Mode = mode
		reqs := perRun / perReq
		var wg sync.WaitGroup
		work := make(chan []byte, reqs)
		for range reqs {
			work <- bulk()
		}
		close(work)
		start := time.Now()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for body := range work {
					req, _ := http.NewRequest(http.MethodPost, p.a.lanURL+bulkPath, bytes.NewReader(body))
					req.Header.Set("To", "city-general")
					req.Header.Set("Content-Type", BulkContentType)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"code"`)) {
						b.Errorf("bulk: %d %.300s", resp.StatusCode, out)
						return
					}
				}
			}()
		}
		wg.Wait()
		return float64(perRun) / time.Since(start).Seconds()
	}
	b.ResetTimer()
	for range b.N {
		run(consent.ModeOff) // warm
		var off, req float64
		for range rounds {
			off += run(consent.ModeOff)
			req += run(consent.ModeRequired)
		}
		off, req = off/rounds, req/rounds
		b.Logf("bulk NDJSON, %d consents on file: off %.0f records/s, required %.0f records/s, required/off %.3f (cost %.1f%%)",
			consents, off, req, req/off, 100*(1-req/off))
		b.ReportMetric(req/off, "required/off")
		b.ReportMetric(req, "records/s")
	}
}

// consentPairB is consentPair for benchmarks.
func consentPairB(b *testing.B) (*recPair, *consent.Gate) {
	dir := b.TempDir()
	st, err := consent.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	h, err := consent.LoadHasher(dir)
	if err != nil {
		b.Fatal(err)
	}
	g := &consent.Gate{Mode: consent.ModeOff, Store: st, Hasher: h, Orgs: map[string]string{"city-general": "org-city"}}
	f := fixture(b)
	n := &recNet{addrs: map[string]string{}}
	// The hospital endpoint is a plain server: the test LAN server's
	// per-source connection cap (netlimit) is below the relay's delivery
	// parallelism under this load.
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	b.Cleanup(ep.Close)
	epURL := ep.URL + "/fhir"
	p := &recPair{f: f, n: n,
		a: newRecBox(b, n, "st-mary", Delivery{}, func(c *Config) { c.Consent = g; c.MaxBody = 16 << 20 }),
		b: newRecBox(b, n, "city-general", Delivery{HTTPURL: epURL}, nil)}
	admit(b, f, p.a, p.b)
	return p, g
}
