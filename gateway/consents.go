package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/records/consent"
)

// The privacy officer's consent verbs (control.ConsentBackend), answered
// from the gate the relay enforces, so `wardgate consents check` gives the
// decision a record would get.

var _ control.ConsentBackend = (*Gateway)(nil)

func (d *Gateway) gate() (*consent.Gate, error) {
	if !d.ready.Load() || d.consent == nil {
		return nil, control.ErrNotReady
	}
	return d.consent, nil
}

// Consents lists the consents on file, patients as salted hashes.
func (d *Gateway) Consents(ctx context.Context) ([]control.ConsentInfo, error) {
	g, err := d.gate()
	if err != nil {
		return nil, err
	}
	return ConsentView{g}.Consents(ctx)
}

// Consent returns one consent as posted.
func (d *Gateway) Consent(ctx context.Context, id string) ([]byte, error) {
	g, err := d.gate()
	if err != nil {
		return nil, err
	}
	return ConsentView{g}.Consent(ctx, id)
}

// CheckConsent decides a record about q.Patient for q.Peer now.
func (d *Gateway) CheckConsent(ctx context.Context, q control.ConsentQuery) (control.ConsentDecision, error) {
	g, err := d.gate()
	if err != nil {
		return control.ConsentDecision{}, err
	}
	return ConsentView{g}.CheckConsent(ctx, q)
}

// ConsentView answers the consent verbs from a gate; the daemon serves it
// once ready, and CLI tests serve it over a test socket.
type ConsentView struct{ Gate *consent.Gate }

// Consents lists the consents on file, patients as salted hashes.
func (v ConsentView) Consents(context.Context) ([]control.ConsentInfo, error) {
	g := v.Gate
	var out []control.ConsentInfo
	for _, c := range g.Store.List() {
		out = append(out, control.ConsentInfo{ID: c.ID, Version: c.Version, Status: string(c.Status),
			PatientHash: g.Hasher.Hash(c.Patient).String(), Digest: fmt.Sprintf("%x", c.Digest)})
	}
	return out, nil
}

// Consent returns one consent as posted.
func (v ConsentView) Consent(_ context.Context, id string) ([]byte, error) {
	raw, err := v.Gate.Store.Raw(id)
	if errors.Is(err, consent.ErrNotFound) {
		return nil, fmt.Errorf("%w: consent %q", control.ErrNotFound, id)
	}
	return raw, err
}

// CheckConsent decides a record about q.Patient for q.Peer now, as the
// relay would.
func (v ConsentView) CheckConsent(_ context.Context, q control.ConsentQuery) (control.ConsentDecision, error) {
	g := v.Gate
	purpose := q.Purpose
	if purpose == "" {
		purpose = g.DefaultPurpose
	}
	if purpose == "" {
		purpose = consent.DefaultPurpose
	}
	var classes []string
	if q.Class != "" {
		classes = []string{q.Class}
	}
	dec := g.CheckPatient(q.Patient, q.Peer, purpose, classes, time.Now())
	out := control.ConsentDecision{Decision: "refuse", Reason: string(dec.Reason), Purpose: purpose, PeerOrganization: g.Orgs[q.Peer]}
	if dec.Permit {
		out.Decision, out.Reason = "release", ""
	}
	if dec.Consent != nil {
		out.Consent, out.Version = dec.Consent.ID, dec.Consent.Version
	}
	return out, nil
}
