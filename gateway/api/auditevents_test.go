package api

import (
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	auditlog "github.com/wardgate/wardgate/audit"
)

// TestAuditEndpoint: GET /v1/audit is behind the same mutual TLS as the
// other routes, answers a FHIR Bundle of the trail (its own request
// included, with the client's subject), and names a bad since or limit.
func TestAuditEndpoint(t *testing.T) {
	trail, err := auditlog.New(auditlog.Config{Box: "hospital-a"})
	if err != nil {
		t.Fatal(err)
	}
	trail.Emit(auditlog.Event{Kind: auditlog.Admission, Peer: "hospital-b", Time: time.Now().Add(-2 * time.Hour)})
	trail.Emit(auditlog.Event{Kind: auditlog.RecordSent, Peer: "hospital-b"})
	e := startAPIConfig(t, Config{Backend: newBackend(), Audit: trail})
	if _, err := e.client(t, nil, nil).Get(e.url + "/v1/audit"); err == nil {
		t.Fatal("GET /v1/audit answered without a client certificate")
	}
	cc, ck := e.teamCA.issue(t, "soc-analyst", x509.ExtKeyUsageClientAuth)
	c := e.client(t, cc, ck)
	var b auditlog.Bundle
	if code := getJSON(t, c, e.url+"/v1/audit?since=1h", &b); code != http.StatusOK {
		t.Fatalf("GET /v1/audit: %d", code)
	}
	var kinds []string
	for _, en := range b.Entry {
		kinds = append(kinds, en.Resource.Subtype[1].Code)
	}
	if len(kinds) != 2 || kinds[0] != string(auditlog.RecordSent) || kinds[1] != string(auditlog.APIAccess) {
		t.Fatalf("since=1h: %v, want record-sent then this api-access", kinds)
	}
	if who := b.Entry[1].Resource.Agent[1].Who.Display; who != "CN=soc-analyst" {
		t.Fatalf("api-access names %q, want the client certificate's subject", who)
	}
	for _, q := range []string{"since=yesterday", "limit=0", "limit=99999"} {
		if code := getJSON(t, c, e.url+"/v1/audit?"+q, nil); code != http.StatusBadRequest {
			t.Errorf("GET /v1/audit?%s: %d, want 400", q, code)
		}
	}
}
