package records

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkBulkIntakeMTLS: bulk NDJSON intake (48 FHIR resources of 1 KiB a
// request, 8 EHR connections kept alive) into the same relay over plain
// HTTP and over mutual TLS, in one run. mtls-cost-% is how much more time
// a record takes over mTLS than over plain HTTP (the target is under 10%).
//
//	go test -run '^$' -bench BulkIntakeMTLS -benchtime 20x ./records/
func BenchmarkBulkIntakeMTLS(b *testing.B) {
	p := newRecPair(b)
	pki := newTestPKI(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: p.a.r.LANHandler(), TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{pki.leaf(b, "wardgate", x509.ExtKeyUsageServerAuth)},
		ClientCAs:    pki.pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}}
	go srv.ServeTLS(ln, "", "")
	b.Cleanup(func() { srv.Close() })
	plain := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}
	mtls := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true, TLSClientConfig: &tls.Config{
		RootCAs: pki.pool(), Certificates: []tls.Certificate{pki.leaf(b, "ehr", x509.ExtKeyUsageClientAuth)}}}}
	const perReq, conc = 48, 8 // the test relays take 64 KiB a request
	var seq atomic.Uint64
	body := func() []byte {
		var buf bytes.Buffer
		for range perReq {
			fmt.Fprintf(&buf, `{"resourceType":"Observation","id":"m%d","status":"final","note":"%0900d"}`+"\n", seq.Add(1), 0)
		}
		return buf.Bytes()
	}
	load := func(c *http.Client, base string, n int) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		var next atomic.Int64
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					req, _ := http.NewRequest(http.MethodPost, base+bulkPath, bytes.NewReader(body()))
					req.Header.Set("To", "city-general")
					req.Header.Set("Content-Type", BulkContentType)
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("bulk: %s", resp.Status)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	mtlsBase := "https://" + ln.Addr().String()
	load(plain, p.a.lanURL, conc) // warm: connections, batches
	load(mtls, mtlsBase, conc)
	b.ResetTimer()
	var tPlain, tMTLS time.Duration
	for i := 0; i < 2; i++ { // interleaved, so drift hits both alike
		tPlain += load(plain, p.a.lanURL, b.N)
		tMTLS += load(mtls, mtlsBase, b.N)
	}
	b.StopTimer()
	recs := float64(2 * b.N * perReq)
	b.ReportMetric(recs/tPlain.Seconds(), "plain-records/s")
	b.ReportMetric(recs/tMTLS.Seconds(), "mtls-records/s")
	b.ReportMetric(100*(tMTLS.Seconds()/tPlain.Seconds()-1), "mtls-cost-%")
}
