package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/gateway/control"
)

// backend serves canned box state; it is the Backend the API under test
// consumes.
type backend struct {
	mu      sync.Mutex
	reports []control.ReportSummary
	ledger  control.LedgerInfo
	peers   []control.PeerInfo
}

func newBackend() *backend {
	now := time.Now().UTC()
	b := &backend{
		ledger: control.LedgerInfo{Size: 5000, Backlog: 904, ChainConnected: true, Endpoints: []control.EndpointInfo{
			{URL: "http://10.0.0.5:8545", Error: "connection refused"}, {URL: "http://10.0.1.5:8545", Healthy: true, Active: true}}},
		peers: []control.PeerInfo{
			{Name: "hospital-b", State: control.PeerAdmitted, RxBytes: 1000, TxBytes: 2000, Verdict: "pass"},
			{Name: "hospital-c", State: control.PeerNeverAdmitted, Verdict: "fail"},
		},
	}
	for i := range 25 {
		v, p := control.VerdictPass, "hospital-b"
		if i%5 == 0 {
			v, p = control.VerdictFail, "hospital-c"
		}
		b.reports = append(b.reports, control.ReportSummary{ID: fmt.Sprintf("r%02d", i), Time: now.Add(-time.Duration(i) * time.Hour), Peer: p, Verdict: v})
	}
	return b
}

func (b *backend) Status(context.Context) (control.StatusInfo, error) {
	return control.StatusInfo{}, nil
}
func (b *backend) Peers(context.Context) ([]control.PeerInfo, error) { return b.peers, nil }
func (b *backend) Attest(context.Context, string) (control.AttestResult, error) {
	panic("the read-only API must never attest")
}
func (b *backend) Reports(_ context.Context, f control.ReportFilter) ([]control.ReportSummary, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return control.ApplyFilter(b.reports, f), nil
}

// prepend adds a new (newest) report, as an appraisal would.
func (b *backend) prepend(r control.ReportSummary) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reports = append([]control.ReportSummary{r}, b.reports...)
}
func (b *backend) Report(_ context.Context, id string) ([]byte, error) {
	if id == "r03" {
		return []byte(`{"id":"r03",  "signature":"c2ln"}`), nil
	}
	return nil, fmt.Errorf("report %s: %w", id, control.ErrNotFound)
}
func (b *backend) LedgerStatus(context.Context) (control.LedgerInfo, error) { return b.ledger, nil }
func (b *backend) Firmware(context.Context) (control.FirmwareInfo, error) {
	return control.FirmwareInfo{}, nil
}
func (b *backend) Checkpoints(context.Context) ([]control.CheckpointInfo, error) {
	return []control.CheckpointInfo{{Size: 4096, Root: "ab", Anchored: true, Block: 7}}, nil
}

// pki is a CA that can issue server and client certificates.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t testing.TB, name string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &pki{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *pki) issue(t testing.TB, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func write(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type apiEnv struct {
	url      string
	serverCA *pki
	teamCA   *pki
}

func startAPI(t testing.TB, b control.Backend) *apiEnv {
	return startAPIConfig(t, Config{Backend: b})
}

// startAPIConfig serves cfg with fresh certificates and a quiet logger.
func startAPIConfig(t testing.TB, cfg Config) *apiEnv {
	t.Helper()
	dir := t.TempDir()
	serverCA, teamCA := newCA(t, "hospital-a box CA"), newCA(t, "hospital-a security team CA")
	sc, sk := serverCA.issue(t, "hospital-a", x509.ExtKeyUsageServerAuth)
	cfg.CertFile, cfg.KeyFile = write(t, dir, "server.pem", sc), write(t, dir, "server.key", sk)
	cfg.ClientCAFile, cfg.Logger = write(t, dir, "team-ca.pem", teamCA.pem), slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &apiEnv{url: "https://" + ln.Addr().String(), serverCA: serverCA, teamCA: teamCA}
}

// client trusts the box's server CA and presents the given certificate (if any).
func (e *apiEnv) client(t testing.TB, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(e.serverCA.cert)
	tc := &tls.Config{RootCAs: roots}
	if certPEM != nil {
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	tr := &http.Transport{TLSClientConfig: tc}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func getJSON(t *testing.T, c *http.Client, url string, v any) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, body)
		}
	}
	return resp.StatusCode
}

func TestMutualTLSRefusesWithoutTeamCert(t *testing.T) {
	e := startAPI(t, newBackend())
	otherCA := newCA(t, "some other CA")
	oc, ok := otherCA.issue(t, "mallory", x509.ExtKeyUsageClientAuth)
	// A certificate from the team CA, but issued for servers, not clients.
	sc, sk := e.teamCA.issue(t, "misissued", x509.ExtKeyUsageServerAuth)
	for name, c := range map[string]*http.Client{
		"no client certificate":           e.client(t, nil, nil),
		"certificate from another CA":     e.client(t, oc, ok),
		"team CA cert without clientAuth": e.client(t, sc, sk),
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/v1/reports", "/v1/peers", "/v1/reports/r03", "/v1/checkpoints"} {
				resp, err := c.Get(e.url + path)
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET %s answered %s without a valid client certificate", path, resp.Status)
				}
				if !strings.Contains(err.Error(), "tls") {
					t.Fatalf("GET %s: %v, want a TLS refusal", path, err)
				}
			}
		})
	}

	cc, ck := e.teamCA.issue(t, "soc-analyst", x509.ExtKeyUsageClientAuth)
	var ps []control.PeerInfo
	if code := getJSON(t, e.client(t, cc, ck), e.url+"/v1/peers", &ps); code != 200 || len(ps) != 2 {
		t.Fatalf("valid team certificate: %d %v", code, ps)
	}
}

func TestReportAPI(t *testing.T) {
	b := newBackend()
	e := startAPI(t, b)
	cc, ck := e.teamCA.issue(t, "soc-analyst", x509.ExtKeyUsageClientAuth)
	c := e.client(t, cc, ck)

	var p ReportPage
	getJSON(t, c, e.url+"/v1/reports?since=3h30m&offset=1", &p)
	if len(p.Reports) != 3 || p.Reports[0].ID != "r01" {
		t.Fatalf("since+offset: %+v", p.Reports)
	}

	// Follow next_cursor through every passing hospital-b report.
	var ids []string
	url := e.url + "/v1/reports?peer=hospital-b&verdict=pass&limit=7"
	for pages := 0; ; pages++ {
		var p ReportPage
		if code := getJSON(t, c, url, &p); code != 200 {
			t.Fatalf("GET %s: %d", url, code)
		}
		for _, r := range p.Reports {
			if r.Peer != "hospital-b" || r.Verdict != "pass" {
				t.Fatalf("filter leaked %+v", r)
			}
			ids = append(ids, r.ID)
		}
		if p.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("cursor does not advance")
		}
		// New appraisals land at the head while the client pages: the
		// cursor must neither repeat nor skip anything.
		b.prepend(control.ReportSummary{ID: fmt.Sprintf("new%d", pages), Time: time.Now(), Peer: "hospital-b", Verdict: "pass"})
		url = e.url + "/v1/reports?peer=hospital-b&verdict=pass&limit=7&cursor=" + p.NextCursor
	}
	if len(ids) != 20 || ids[0] != "r01" || ids[19] != "r24" {
		t.Fatalf("paged ids %v, want the 20 passing reports r01..r24", ids)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate %s across pages", id)
		}
		seen[id] = true
	}

	resp, err := c.Get(e.url + "/v1/reports/r03")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"id":"r03",  "signature":"c2ln"}` {
		t.Fatalf("report not served byte for byte: %q", body)
	}
	var cps []control.CheckpointInfo
	if code := getJSON(t, c, e.url+"/v1/checkpoints", &cps); code != 200 || len(cps) != 1 || cps[0].Block != 7 {
		t.Fatalf("checkpoints %d %v", code, cps)
	}

	for url, want := range map[string]int{
		"/v1/reports/r99":             404,
		"/v1/reports?verdict=maybe":   400,
		"/v1/reports?limit=100000":    400,
		"/v1/reports?cursor=!!":       400,
		"/v1/reports?cursor=bzotMQ":   400, // "o:-1", not ours
		"/v1/status":                  404, // not part of the security API
		"/v1/peers/hospital-b/attest": 404,
	} {
		if code := getJSON(t, c, e.url+url, nil); code != want {
			t.Errorf("GET %s: %d, want %d", url, code, want)
		}
	}
	// Read-only: writes are refused.
	resp, err = c.Post(e.url+"/v1/reports", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /v1/reports: %s", resp.Status)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "ca")
	sc, sk := ca.issue(t, "s", x509.ExtKeyUsageServerAuth)
	cert, key := write(t, dir, "c.pem", sc), write(t, dir, "k.pem", sk)
	notPEM := write(t, dir, "ca.txt", []byte("hello"))
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Backend: newBackend(), CertFile: cert, KeyFile: key}, "client CA"},
		{Config{Backend: newBackend(), CertFile: cert, KeyFile: key, ClientCAFile: notPEM}, "no PEM certificate"},
		{Config{Backend: newBackend(), CertFile: cert, KeyFile: filepath.Join(dir, "missing"), ClientCAFile: notPEM}, "loading server certificate"},
		{Config{Backend: newBackend(), ClientCAFile: notPEM}, "cert and key"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want error mentioning %q", c.cfg, err, c.want)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor("r07"))
	f.Add(encodeCursor("9908ceb5681817deb72b4296bc882069"))
	f.Add("bzotMQ")
	f.Fuzz(func(t *testing.T, c string) {
		id, err := decodeCursor(c)
		if err != nil {
			return
		}
		if control.ValidName(id) != nil {
			t.Fatalf("cursor %q decoded to invalid id %q", c, id)
		}
		if back, err := decodeCursor(encodeCursor(id)); err != nil || back != id {
			t.Fatalf("id %q does not round-trip: %q %v", id, back, err)
		}
	})
}
