package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/audit"
	"github.com/wardgate/wardgate/audit/audittest"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/testutil"
)

// patientMarker is in every record body the test sends; it must never
// appear in an audit message.
const patientMarker = "MRN-4711-DOE"

// TestAuditTrail: two boxes send their audit trail to a real rsyslog over
// TLS. Admission, a record burst, a refusal, CLI and API access, then a
// tampered reboot of b (attestation failure and revocation on a,
// quarantine on b): every event kind arrives at the receiver and parses as
// RFC 5424 with an ATNA AuditMessage, no message holds the records'
// patient identifier, and a's report API serves them as FHIR AuditEvents.
// On the way it checks that every metric the shipped Grafana dashboard and
// alert rules query is one a exports (dashboards_test.go).
func TestAuditTrail(t *testing.T) {
	rs := audittest.StartRsyslog(t)
	c := newConsortium(t, []string{"a", "b"})
	a, b := c.boxes["a"], c.boxes["b"]
	for _, x := range []*box{a, b} {
		x.editConfig(t, func(cfg *config.Config) {
			cfg.Audit.Syslog = config.AuditSyslog{Address: rs.Addr(), CA: rs.CAFile}
		})
	}
	a.start(t)
	b.start(t)
	a.waitPeer(t, "b", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
	recordBurst(t, a, 20)
	checkShippedQueries(t, a) // the dashboard's and alerts' metrics, on a box with a peer and records
	// A hospital system that typed the patient's number into To:.
	if code, _, err := a.send(strings.ToLower(patientMarker), []byte(`{"resourceType":"Patient","id":"`+patientMarker+`"}`)); err != nil || code == http.StatusOK {
		t.Fatalf("record to an unknown peer: %d %v, want a refusal", code, err)
	}
	if _, err := control.NewClient(a.cfg(t).Control.Socket).Status(context.Background()); err != nil {
		t.Fatalf("CLI status: %v", err)
	}
	fhir := getAudit(t, c, a)

	b.stop()
	b.setKernel(t, false)
	b.start(t)
	a.waitPeer(t, "b", "revoked", func(p control.PeerInfo) bool { return p.State == control.PeerRevoked })
	if code, _, err := a.send("b", []byte(`{"resourceType":"Patient","id":"`+patientMarker+`"}`)); err != nil || code != http.StatusForbidden {
		t.Fatalf("record to revoked b: %d %v, want 403", code, err)
	}

	kinds := waitKinds(t, rs)
	for _, l := range rs.Lines() {
		if strings.Contains(strings.ToLower(l), strings.ToLower(patientMarker)) {
			t.Fatalf("an audit message holds the record's patient identifier: %.300q", l)
		}
	}
	if kinds[audit.RecordSent] < 20 || kinds[audit.RecordReceived] < 20 {
		t.Errorf("record burst: %d sent, %d received messages; want 20 each", kinds[audit.RecordSent], kinds[audit.RecordReceived])
	}
	checkFHIR(t, fhir)
}

// waitKinds waits until every event kind has reached rs and returns the
// count of each; it fails naming the kinds that never arrived.
func waitKinds(t *testing.T, rs *audittest.Rsyslog) map[audit.Kind]int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		kinds := receivedKinds(t, rs.Lines())
		if len(kinds) == len(audit.Kinds()) {
			return kinds
		}
		if time.Now().After(deadline) {
			var missing []audit.Kind
			for _, k := range audit.Kinds() {
				if kinds[k] == 0 {
					missing = append(missing, k)
				}
			}
			t.Fatalf("these event kinds never reached rsyslog: %v (got %v)", missing, kinds)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recordBurst sends n records a->b at once, each with the patient marker.
func recordBurst(t *testing.T, a *box, n int) {
	t.Helper()
	testutil.WaitFor(t, "first record a->b accepted", func() bool {
		code, _, err := a.send("b", []byte(`{"resourceType":"Patient","id":"`+patientMarker+`-0"}`))
		return err == nil && code == http.StatusOK
	})
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			body := fmt.Appendf(nil, `{"resourceType":"Patient","id":"%s-%d"}`, patientMarker, i)
			if code, refusal, err := a.send("b", body); err != nil || code != http.StatusOK {
				t.Errorf("record %d: %d %s %v", i, code, refusal, err)
			}
		})
	}
	wg.Wait()
}

// receivedKinds parses every received line and counts the event kinds.
func receivedKinds(t *testing.T, lines []string) map[audit.Kind]int {
	t.Helper()
	kinds := map[audit.Kind]int{}
	for i, l := range lines {
		s, err := audit.ParseSyslog([]byte(l))
		if err != nil {
			t.Fatalf("line %d is not RFC 5424: %v: %.200q", i, err, l)
		}
		m, err := audit.ParseATNA(s.Msg)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		for _, tc := range m.Event.TypeCodes {
			if tc.System == "urn:wardgate:audit" {
				kinds[audit.Kind(tc.Code)]++
			}
		}
	}
	return kinds
}

func (b *box) cfg(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(b.path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// getAudit fetches a's GET /v1/audit with the security team's client
// certificate, as its SIEM collector would.
func getAudit(t *testing.T, c *consortium, a *box) audit.Bundle {
	t.Helper()
	dir := filepath.Join(c.dir, "api")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}}
	resp, err := cl.Get("https://" + a.cfg(t).API.Listen + "/v1/audit?since=1h")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("GET /v1/audit: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var bundle audit.Bundle
	if err := json.NewDecoder(resp.Body).Decode(&bundle); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// checkFHIR: the bundle holds AuditEvents for what a saw before b's
// reboot, each with the elements FHIR R4 requires.
func checkFHIR(t *testing.T, b audit.Bundle) {
	t.Helper()
	if b.ResourceType != "Bundle" || b.Total != len(b.Entry) {
		t.Fatalf("not a Bundle: %s total %d of %d", b.ResourceType, b.Total, len(b.Entry))
	}
	seen := map[string]bool{}
	for _, e := range b.Entry {
		r := e.Resource
		if r.ResourceType != "AuditEvent" || r.Type.Code == "" || r.Recorded == "" || len(r.Agent) == 0 || r.Source.Observer.Display != "a" {
			t.Fatalf("AuditEvent lacks a required element: %+v", r)
		}
		for _, s := range r.Subtype {
			seen[s.Code] = true
		}
	}
	for _, k := range []audit.Kind{audit.ConfigLoad, audit.AttestationPass, audit.Admission, audit.RecordSent, audit.RecordRefused, audit.ControlAccess, audit.APIAccess} {
		if !seen[string(k)] {
			t.Errorf("GET /v1/audit has no %s AuditEvent", k)
		}
	}
}
