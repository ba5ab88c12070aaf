package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// ConsentBackend is the privacy officer's view of the consent gate over
// the control socket, so that members of group wardgate can use it without
// reading the box's state dir. The daemon implements it; on a backend
// without it the consent routes answer 404.
type ConsentBackend interface {
	Consents(ctx context.Context) ([]ConsentInfo, error)
	// Consent returns a consent exactly as it was posted.
	Consent(ctx context.Context, id string) ([]byte, error)
	CheckConsent(ctx context.Context, q ConsentQuery) (ConsentDecision, error)
}

// ConsentInfo is a consent on file. The patient appears only as the box's
// salted hash.
type ConsentInfo struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	Status      string `json:"status"`
	PatientHash string `json:"patient_hash"`
	Digest      string `json:"digest"`
}

// ConsentQuery asks whether a record about Patient may go to Peer. It
// travels in a POST body, never in a URL, so the patient id stays out of
// any request log.
type ConsentQuery struct {
	Patient string `json:"patient"`
	Peer    string `json:"peer"`
	Purpose string `json:"purpose,omitempty"` // empty: the box's records.purpose
	Class   string `json:"class,omitempty"`   // a data class the record holds, e.g. PSY
}

// maxConsentQuery bounds a ConsentQuery body.
const maxConsentQuery = 4 << 10

// Validate checks a query before it is sent or answered.
func (q ConsentQuery) Validate() error {
	if q.Patient == "" || len(q.Patient) > 256 {
		return fmt.Errorf("%w: patient must be 1..256 bytes", ErrBadRequest)
	}
	if err := ValidPeer(q.Peer); err != nil {
		return err
	}
	if len(q.Purpose) > 64 || len(q.Class) > 64 {
		return fmt.Errorf("%w: purpose and class are at most 64 bytes", ErrBadRequest)
	}
	return nil
}

// ConsentDecision answers a ConsentQuery.
type ConsentDecision struct {
	Decision string `json:"decision"` // release | refuse
	Reason   string `json:"reason,omitempty"`
	Consent  string `json:"consent,omitempty"`
	Version  string `json:"version,omitempty"`
	Purpose  string `json:"purpose"`
	// PeerOrganization is the peer's configured organisation; empty means
	// no consent can name the peer.
	PeerOrganization string `json:"peer_organization,omitempty"`
}

// consentRoutes serves a ConsentBackend:
//
//	GET  /v1/consents        []ConsentInfo
//	GET  /v1/consents/{id}   the consent as posted
//	POST /v1/consents/check  ConsentQuery -> ConsentDecision
func consentRoutes(mux *http.ServeMux, b ConsentBackend, log *slog.Logger) {
	mux.HandleFunc("GET /v1/consents", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Consents(r.Context())
		reply(w, log, nonNil(v), err)
	})
	mux.HandleFunc("GET /v1/consents/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := ValidName(id); err != nil {
			reply(w, log, nil, err)
			return
		}
		doc, err := b.Consent(r.Context(), id)
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(doc)
	})
	mux.HandleFunc("POST /v1/consents/check", func(w http.ResponseWriter, r *http.Request) {
		var q ConsentQuery
		body, err := io.ReadAll(io.LimitReader(r.Body, maxConsentQuery+1))
		if err == nil && len(body) > maxConsentQuery {
			err = fmt.Errorf("%w: query over %d bytes", ErrBadRequest, maxConsentQuery)
		}
		if err == nil && json.Unmarshal(body, &q) != nil {
			err = fmt.Errorf("%w: query is not JSON", ErrBadRequest)
		}
		if err == nil {
			err = q.Validate()
		}
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		v, err := b.CheckConsent(r.Context(), q)
		reply(w, log, v, err)
	})
}

// Consents lists the consents on file.
func (c *Client) Consents(ctx context.Context) ([]ConsentInfo, error) {
	return get[[]ConsentInfo](ctx, c, http.MethodGet, "/v1/consents", nil)
}

// Consent returns one consent exactly as posted.
func (c *Client) Consent(ctx context.Context, id string) ([]byte, error) {
	if err := ValidName(id); err != nil {
		return nil, fmt.Errorf("consent id: %w", err)
	}
	return c.do(ctx, http.MethodGet, "/v1/consents/"+id, nil)
}

// CheckConsent asks the box's consent gate for a decision.
func (c *Client) CheckConsent(ctx context.Context, q ConsentQuery) (ConsentDecision, error) {
	var d ConsentDecision
	if err := q.Validate(); err != nil {
		return d, err
	}
	body, err := json.Marshal(q)
	if err != nil {
		return d, err
	}
	out, err := c.doBody(ctx, http.MethodPost, "/v1/consents/check", body)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return d, fmt.Errorf("decoding wardgated reply to /v1/consents/check: %w", err)
	}
	return d, nil
}

var _ ConsentBackend = (*Client)(nil)
