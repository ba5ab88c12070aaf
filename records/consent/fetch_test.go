package consent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A gate with a Fetcher reads consents from the EHR's FHIR server, caches
// them for TTL, and refuses (fails closed) when the server cannot answer.
func TestFetchFromEHR(t *testing.T) {
	var hits atomic.Int32
	var down atomic.Bool
	ehr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if down.Load() || r.URL.Path != "/fhir/Consent" {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		entries := ""
		if r.URL.Query().Get("patient") == "p1" {
			entries = `{"resource":` + consentJSON("ehr-1", "p1", "active", "org-bravo", "TREAT", "", "") + `}`
		}
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[` + entries + `]}`))
	}))
	defer ehr.Close()
	g := newGate(t)
	g.Fetch = &Fetcher{Base: ehr.URL + "/fhir", TTL: time.Minute}
	ctx := context.Background()
	out, err := g.Check(ctx, "bravo", "application/fhir+json", []byte(obs("p1", "")), "TREAT", now)
	if err != nil || out.Ref.ID != "ehr-1" {
		t.Fatalf("EHR consent: %+v %v", out, err)
	}
	if _, err := g.Check(ctx, "bravo", "application/fhir+json", []byte(obs("p1", "")), "TREAT", now.Add(time.Second)); err != nil || hits.Load() != 1 {
		t.Fatalf("cached check: %v, %d EHR requests, want 1", err, hits.Load())
	}
	if r, ok := AsRefusal(mustFail(g.Check(ctx, "bravo", "application/fhir+json", []byte(obs("p2", "")), "TREAT", now))); !ok || r.Reason != NoConsent {
		t.Fatal("patient without consent in the EHR released")
	}
	down.Store(true)
	_, err = g.Check(ctx, "bravo", "application/fhir+json", []byte(obs("p1", "")), "TREAT", now.Add(2*time.Minute))
	if r, ok := AsRefusal(err); !ok || r.Reason != NoConsent {
		t.Fatalf("EHR down after the cache expired: %v, want a no_consent refusal", err)
	}
}

func mustFail(_ Outcome, err error) error { return err }

func FuzzSearchset(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":` + consentJSON("c", "p1", "active", "o", "TREAT", "", "") + `}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := parseSearchset(b, "p1")
		for _, c := range cs {
			if err != nil || c.Patient != "p1" {
				t.Fatal("consent for another patient accepted")
			}
		}
	})
}
