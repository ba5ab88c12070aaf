package records

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/consent"
)

// The consent gate (issue 17): with Config.Consent in mode required, a
// record leaves the box only if a Consent on file permits its patient(s),
// the peer's organisation, the purpose of use and the time. A refusal is
// journaled as a KindRefused entry (digest, salted patient hash, reason;
// no body) and answered 403 {"code":"<reason>"} or HL7 AR. A release's
// sent entry carries the consent's id, version and digest. Hospital
// systems manage consents on the LAN API:
//
//	POST   /v1/consents        a FHIR R4 Consent (JSON); 201 {"id","version","digest","status"}
//	GET    /v1/consents/{id}   the resource as posted
//	DELETE /v1/consents/{id}   withdraw it (status inactive from now on)

// ErrConsentRefused wraps a *consent.Refusal.
var ErrConsentRefused = errors.New("relay: consent refused")

// PurposeHeader names the purpose of use of a LAN request (e.g. TREAT).
const PurposeHeader = "Purpose"

type purposeKey struct{}

// WithPurpose returns ctx carrying the purpose of use of the records sent
// with it; without one the gate uses its configured default.
func WithPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

func purposeOf(ctx context.Context) string {
	p, _ := ctx.Value(purposeKey{}).(string)
	return p
}

// withPurpose puts a request's Purpose header into its context.
func withPurpose(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p := req.Header.Get(PurposeHeader); p != "" && len(p) <= 64 {
			req = req.WithContext(WithPurpose(req.Context(), p))
		}
		h.ServeHTTP(w, req)
	})
}

// consentCheck runs the gate for one record and returns the consent fields
// of its sent entry, or a refusal (journaled before it is returned).
func (r *Relay) consentCheck(ctx context.Context, peer, contentType string, body []byte) (proof.ConsentFields, error) {
	g := r.cfg.Consent
	if g == nil || g.Mode == consent.ModeOff || g.Mode == "" {
		return proof.ConsentFields{}, nil
	}
	out, err := g.Check(ctx, peer, contentType, body, purposeOf(ctx), r.cfg.Now())
	if err == nil {
		return proof.ConsentFields{ID: out.Ref.ID, Version: out.Ref.Version, Digest: out.Ref.Digest, Patient: out.Patient}, nil
	}
	rf, ok := consent.AsRefusal(err)
	if !ok {
		return proof.ConsentFields{}, fmt.Errorf("relay: consent check: %w", err)
	}
	digest := sha256.Sum256(body)
	if g.Mode == consent.ModeAudit {
		r.log.Warn("consent would refuse; forwarded (audit mode)", "code", rf.Reason, "digest", fmt.Sprintf("%x", digest), "patient_hash", rf.Patient.String(), "to", peer)
		return proof.ConsentFields{}, nil
	}
	e := proof.Entry{Kind: proof.KindRefused, Digest: digest, Sender: r.cfg.Box, Receiver: peer, ContentType: contentType,
		Consent: proof.ConsentFields{Patient: rf.Patient, Reason: string(rf.Reason)}}
	if _, jerr := r.cfg.Ledger.Append(ctx, e); jerr != nil {
		return proof.ConsentFields{}, fmt.Errorf("relay: journaling refused entry: %w", jerr)
	}
	r.log.Warn("record refused by consent", "code", rf.Reason, "digest", fmt.Sprintf("%x", digest), "patient_hash", rf.Patient.String(), "to", peer)
	return proof.ConsentFields{}, fmt.Errorf("%w: %w", ErrConsentRefused, rf)
}

// refusalCode is a consent refusal's code (its reason), if err is one.
func refusalCode(err error) (string, bool) {
	rf, ok := consent.AsRefusal(err)
	if !ok {
		return "", false
	}
	return string(rf.Reason), true
}

// consentRoutes registers the consent API when the gate is configured.
func (r *Relay) consentRoutes(mux *http.ServeMux) {
	if r.cfg.Consent == nil || r.cfg.Consent.Store == nil {
		return
	}
	mux.HandleFunc("POST /v1/consents", r.handlePostConsent)
	mux.HandleFunc("GET /v1/consents/{id}", r.handleGetConsent)
	mux.HandleFunc("DELETE /v1/consents/{id}", r.handleDeleteConsent)
}

type consentAnswer struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Status  string `json:"status"`
}

func answer(c *consent.Consent) consentAnswer {
	return consentAnswer{ID: c.ID, Version: c.Version, Digest: fmt.Sprintf("%x", c.Digest), Status: string(c.Status)}
}

func (r *Relay) handlePostConsent(w http.ResponseWriter, req *http.Request) {
	body, err := readBody(w, req, consent.MaxConsentSize)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := r.cfg.Consent.Store.Put(body)
	switch {
	case errors.Is(err, consent.ErrMalformed):
		writeRefusal(w, http.StatusBadRequest, "malformed_consent", err)
		return
	case err != nil:
		writeError(w, err)
		return
	}
	r.log.Info("consent stored", "consent", c.ID, "version", c.Version, "status", c.Status)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(answer(c))
}

func (r *Relay) handleGetConsent(w http.ResponseWriter, req *http.Request) {
	raw, err := r.cfg.Consent.Store.Raw(req.PathValue("id"))
	if errors.Is(err, consent.ErrNotFound) {
		writeRefusal(w, http.StatusNotFound, "not_found", err)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write(raw)
}

func (r *Relay) handleDeleteConsent(w http.ResponseWriter, req *http.Request) {
	c, err := r.cfg.Consent.Store.Withdraw(req.PathValue("id"), r.cfg.Now())
	if errors.Is(err, consent.ErrNotFound) {
		writeRefusal(w, http.StatusNotFound, "not_found", err)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	r.log.Info("consent withdrawn", "consent", c.ID)
	writeJSON(w, answer(c))
}

// ackCode is the HL7 acknowledgement code for a send error: AR (rejected)
// for a consent refusal, which resending cannot fix, else AE.
func ackCode(err error) string {
	if _, ok := refusalCode(err); ok {
		return "AR"
	}
	return "AE"
}
