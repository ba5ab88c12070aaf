package api

import (
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkReportsPlain is the baseline: the same handler over plain HTTP
// on loopback.
func BenchmarkReportsPlain(b *testing.B) {
	srv := httptest.NewServer(Handler(newBackend(), slog.New(slog.DiscardHandler)))
	defer srv.Close()
	benchGet(b, srv.Client(), srv.URL+"/v1/reports?limit=20")
}

// BenchmarkReportsMTLS is a page of reports through mutual TLS (kept-alive
// connection, as a SIEM poller would use).
func BenchmarkReportsMTLS(b *testing.B) {
	e := startAPI(b, newBackend())
	cc, ck := e.teamCA.issue(b, "siem", x509.ExtKeyUsageClientAuth)
	benchGet(b, e.client(b, cc, ck), e.url+"/v1/reports?limit=20")
}

func benchGet(b *testing.B, c *http.Client, url string) {
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}
