package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// TestLANMutualTLS turns on mutual TLS for a's record intake, as a hospital
// that wants only its own systems to hand over records would: without a
// client certificate from the hospital's CA a record is refused at the TLS
// handshake; with one it is forwarded to b.
func TestLANMutualTLS(t *testing.T) {
	c := newCluster(t, cluster.Userspace, []string{"a", "b"})
	A := c.Box("a")
	dir := t.TempDir()
	hospitalCA, caKey := testCA(t, "hospital a systems")
	otherCA, otherKey := testCA(t, "someone else")
	serverCert := testLeaf(t, hospitalCA, caKey, "wardgate a", x509.ExtKeyUsageServerAuth)
	ehrCert := testLeaf(t, hospitalCA, caKey, "ehr.hospital-a", x509.ExtKeyUsageClientAuth)
	rogueCert := testLeaf(t, otherCA, otherKey, "ehr.hospital-a", x509.ExtKeyUsageClientAuth)
	write := func(name string, blocks ...*pem.Block) string {
		var b bytes.Buffer
		for _, bl := range blocks {
			pem.Encode(&b, bl)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := tlsPEM(t, serverCert)
	for key, val := range map[string]string{
		"records.tls_cert":  write("server.pem", srvDER),
		"records.tls_key":   write("server-key.pem", srvKey),
		"records.client_ca": write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: hospitalCA.Raw}),
	} {
		if err := A.SetConfig(key, val); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := A.WaitPeer(ctx, "b", admitted); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(hospitalCA)
	url := "https://" + net.JoinHostPort(A.Host, itoa(A.LANPort)) + "/v1/records"
	post := func(client *http.Client, body []byte) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("To", "b")
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	if code, _, err := A.PostRecord(ctx, "b", "application/fhir+json", fhirBundle(10)); err == nil && code == http.StatusOK {
		t.Fatal("a plain-HTTP record was accepted on the mTLS listener")
	}
	if code, err := post(client(), fhirBundle(11)); err == nil {
		t.Fatalf("a record without a client certificate got %d", code)
	}
	if code, err := post(client(rogueCert), fhirBundle(12)); err == nil {
		t.Fatalf("a record with another CA's client certificate got %d", code)
	}
	code, err := post(client(ehrCert), fhirBundle(13))
	if err != nil || code != http.StatusOK {
		t.Fatalf("the hospital's EHR with its certificate: %d %v", code, err)
	}
	if _, err := c.Sink.WaitFor(ctx, "b", `"id":"demo-13"`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{10, 11, 12} {
		if got := c.Sink.Deliveries("b"); bytes.Contains(joinBodies(got), fhirBundle(n)) {
			t.Fatalf("refused record %d was delivered", n)
		}
	}
}

func joinBodies(ds []cluster.Delivery) []byte {
	var b []byte
	for _, d := range ds {
		b = append(b, d.Body...)
	}
	return b
}

func itoa(i int) string { return strconv.Itoa(i) }

func testCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func testLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsPEM is a certificate and its key as PEM blocks.
func tlsPEM(t *testing.T, c tls.Certificate) (*pem.Block, *pem.Block) {
	t.Helper()
	k, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}, &pem.Block{Type: "PRIVATE KEY", Bytes: k}
}
