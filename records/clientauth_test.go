package records

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/records/hl7"
)

// testPKI is a hospital CA issuing the box's server and the EHRs' client certificates.
type testPKI struct {
	ca  *x509.Certificate
	key *ecdsa.PrivateKey
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hospital CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &testPKI{ca: ca, key: key}
}

func (p *testPKI) leaf(t testing.TB, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *testPKI) pool() *x509.CertPool {
	cp := x509.NewCertPool()
	cp.AddCert(p.ca)
	return cp
}

// A client certificate limited by subject (records.client_peers) may send
// only to its listed peers; an unlisted subject may send to any admitted
// peer, and a client without a certificate does not get past TLS.
func TestClientCertificateLimitedByPeer(t *testing.T) {
	pair := newRecPair(t)
	pki := newTestPKI(t)
	a := newRecBox(t, pair.n, "st-mary-tls", Delivery{}, func(c *Config) {
		c.ClientPeers = map[string][]string{"lab.st-mary": {"elsewhere"}}
	})
	admit(t, pair.f, a, pair.b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.r.LANHandler(), TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{pki.leaf(t, "wardgate", x509.ExtKeyUsageServerAuth)},
		ClientCAs:    pki.pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	post := func(certs ...tls.Certificate) (int, []byte, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool(), Certificates: certs}}}
		req, _ := http.NewRequest(http.MethodPost, "https://"+ln.Addr().String()+"/v1/records", bytes.NewReader(fhirBundle(randMarker(t))))
		req.Header.Set("To", "city-general")
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, nil
	}
	status, out, err := post(pki.leaf(t, "lab.st-mary", x509.ExtKeyUsageClientAuth))
	if err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, status, out, http.StatusForbidden, codeClientNotAllowed, "lab.st-mary")
	if status, out, err := post(pki.leaf(t, "ehr.st-mary", x509.ExtKeyUsageClientAuth)); err != nil || status != 200 {
		t.Fatalf("unlisted client: %d %s %v", status, out, err)
	}
	if _, _, err := post(); err == nil {
		t.Fatal("a client without a certificate got an answer")
	}
}

// Receipt lookups are rate-limited (each uncached one asks a peer): a
// burst past the limit gets 429 rate_limited, and lookups resume after.
func TestReceiptLookupsRateLimited(t *testing.T) {
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) { c.ReceiptLookups = 1 })
	url := a.lanURL + "/v1/receipts/" + strings.Repeat("ab", 32)
	limited := 0
	for range 10 {
		status, out := get(t, url)
		switch status {
		case http.StatusNotFound:
		case http.StatusTooManyRequests:
			wantRefusal(t, status, out, http.StatusTooManyRequests, codeRateLimited, "receipt lookups")
			limited++
		default:
			t.Fatalf("lookup: %d %s", status, out)
		}
	}
	if limited < 5 {
		t.Fatalf("%d of 10 rapid lookups limited at 1/s, burst 3", limited)
	}
	time.Sleep(1100 * time.Millisecond)
	if status, out := get(t, url); status != http.StatusNotFound {
		t.Fatalf("lookup after the burst: %d %s", status, out)
	}
}

// MLLPS: the MLLP intake under TLS with client certificates refuses an
// engine without a certificate, serves one with, and applies the
// certificate's peer limit (records.client_peers) to HL7 messages too.
func TestMLLPSClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") }}
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) {
		c.MLLPPeer = "city-general"
		c.ClientPeers = map[string][]string{"lab.st-mary": {"elsewhere"}}
	})
	b := newRecBox(t, n, "city-general", Delivery{MLLPAddr: eng.serve(t)}, nil)
	admit(t, fixture(t), a, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pki.leaf(t, "wardgate", x509.ExtKeyUsageServerAuth)},
		ClientCAs: pki.pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.r.ServeMLLP(ctx, tln) }()
	t.Cleanup(func() { cancel(); <-done })
	send := func(id string, certs ...tls.Certificate) (*hl7.Ack, error) {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pki.pool(), Certificates: certs})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := hl7.WriteFrame(c, []byte(withControlID(id))); err != nil {
			return nil, err
		}
		raw, err := hl7.ReadFrame(bufio.NewReader(c), 1<<20)
		if err != nil {
			return nil, err
		}
		return hl7.ParseAck(raw)
	}
	if ack, err := send("NOCERT01"); err == nil {
		t.Fatalf("an engine without a client certificate got %+v", ack)
	}
	if ack, err := send("LIMITED1", pki.leaf(t, "lab.st-mary", x509.ExtKeyUsageClientAuth)); err != nil || ack.Code != "AE" || !strings.Contains(ack.Text, "client_peers") {
		t.Fatalf("limited client: %+v %v", ack, err)
	}
	if ack, err := send("ENGINE01", pki.leaf(t, "engine.st-mary", x509.ExtKeyUsageClientAuth)); err != nil || ack.Code != "AA" {
		t.Fatalf("engine with its certificate: %+v %v", ack, err)
	}
	if got := eng.count(); got != 1 {
		t.Fatalf("engine got %d messages, want 1", got)
	}
}
