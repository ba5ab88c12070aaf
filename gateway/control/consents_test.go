package control

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// consentTestBackend answers every check with release, so a refusal in the
// tests below can only come from the route's own validation.
type consentTestBackend struct {
	*testBackend
	checks int
}

func (b *consentTestBackend) Consents(context.Context) ([]ConsentInfo, error) { return nil, nil }
func (b *consentTestBackend) Consent(context.Context, string) ([]byte, error) {
	return nil, ErrNotFound
}
func (b *consentTestBackend) CheckConsent(_ context.Context, q ConsentQuery) (ConsentDecision, error) {
	b.checks++
	return ConsentDecision{Decision: "release", Purpose: q.Purpose}, nil
}

// A malformed consent query is refused 400 before the backend decides
// anything; a backend without consents has no consent routes.
func TestConsentCheckValidated(t *testing.T) {
	b := &consentTestBackend{testBackend: newTestBackend()}
	h := Handler(b, nil)
	post := func(body string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/consents/check", strings.NewReader(body)))
		return rec.Code
	}
	for name, body := range map[string]string{
		"not JSON":     "patient=p",
		"no patient":   `{"peer":"hospital-b"}`,
		"bad peer":     `{"patient":"p","peer":"Hospital B"}`,
		"long purpose": `{"patient":"p","peer":"hospital-b","purpose":"` + strings.Repeat("x", 65) + `"}`,
		"over 4 KiB":   `{"patient":"` + strings.Repeat("p", 5000) + `","peer":"hospital-b"}`,
		"long patient": `{"patient":"` + strings.Repeat("p", 257) + `","peer":"hospital-b"}`,
	} {
		if code := post(body); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	if b.checks != 0 {
		t.Fatalf("the backend decided %d malformed queries", b.checks)
	}
	if code := post(`{"patient":"p","peer":"hospital-b","purpose":"TREAT"}`); code != http.StatusOK || b.checks != 1 {
		t.Fatalf("a well-formed query: %d, %d checks", code, b.checks)
	}
	rec := httptest.NewRecorder()
	Handler(newTestBackend(), nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/consents", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /v1/consents on a backend without consents: %d, want 404", rec.Code)
	}
}
