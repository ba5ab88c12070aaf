package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	auditlog "github.com/wardgate/wardgate/audit"
	"github.com/wardgate/wardgate/gateway/control"
)

// AuditTrail is what the report API needs of the box's audit log: it
// records each request and serves recent events as FHIR AuditEvents.
type AuditTrail interface {
	Emit(auditlog.Event)
	Since(t time.Time, limit int) []auditlog.Event
}

// Audit page size: GET /v1/audit returns at most maxAuditPage events, the
// oldest first; the next page starts at the last one's time.
const (
	defaultAuditPage = 500
	maxAuditPage     = 5000
)

// withAudit adds GET /v1/audit to h and records every request on the
// report API in the audit trail (the client certificate's subject, the
// method and path; never a query's values).
func withAudit(h http.Handler, trail AuditTrail, log *slog.Logger) http.Handler {
	if trail == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /v1/audit", func(w http.ResponseWriter, r *http.Request) { auditEvents(w, r, trail) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trail.Emit(auditlog.Event{Kind: auditlog.APIAccess, Actor: clientSubject(r), Object: r.Method + " " + r.URL.Path, Code: r.Method})
		if r.URL.Path == "/v1/audit" {
			log.Info("api request", "client", clientSubject(r), "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		}
		mux.ServeHTTP(w, r)
	})
}

// clientSubject is the client certificate's subject, or "" without one.
func clientSubject(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0].Subject.String()
	}
	return ""
}

// auditEvents answers GET /v1/audit?since=&limit= with a FHIR R4 Bundle of
// AuditEvents (application/fhir+json).
func auditEvents(w http.ResponseWriter, r *http.Request, trail AuditTrail) {
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("since"); s != "" {
		t, err := control.ParseSince(s, time.Now())
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		since = t
	}
	limit := defaultAuditPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditPage {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1..%d", s, maxAuditPage))
			return
		}
		limit = n
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(auditlog.FHIRBundle(trail.Since(since, limit)))
}
