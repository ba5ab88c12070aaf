package consent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardgate/wardgate/records/hl7"
)

// Mode is records.consent: whether the gate refuses, only reports, or is off.
type Mode string

// Gate modes.
const (
	ModeOff      Mode = "off"      // today's behaviour: no check
	ModeAudit    Mode = "audit"    // log what would be refused, forward it
	ModeRequired Mode = "required" // refuse without consent
)

// Modes lists the valid modes, in the order error messages give them.
func Modes() []Mode { return []Mode{ModeOff, ModeAudit, ModeRequired} }

// DefaultPurpose is the purpose of use of records that name none.
const DefaultPurpose = "TREAT"

// Gate decides for the records of one box.
type Gate struct {
	Mode   Mode
	Store  *Store
	Hasher *Hasher
	// Orgs maps a peer's box name to its organisation identifier (the
	// config's peers[].organization); a peer without one is never a
	// permitted recipient.
	Orgs           map[string]string
	DefaultPurpose string
	// Fetch, if set, also reads each patient's Consents from the EHR's
	// FHIR server (fetch.go); a failed lookup refuses the record.
	Fetch *Fetcher
}

// Refusal is a gate refusal: the reason and the patient it is about.
type Refusal struct {
	Reason  Reason
	Patient PatientHash // zero for patient_unknown
	Detail  string
	Err     error // the cause, if it is a named error (e.g. hl7.ErrBadPurpose)
}

func (r *Refusal) Unwrap() error { return r.Err }

func (r *Refusal) Error() string {
	if r.Reason == PatientUnknown {
		return fmt.Sprintf("consent: %s: %s", r.Reason, r.Detail)
	}
	if r.Detail != "" {
		return fmt.Sprintf("consent: %s for patient %s: %s", r.Reason, r.Patient, r.Detail)
	}
	return fmt.Sprintf("consent: %s for patient %s", r.Reason, r.Patient)
}

// Outcome is a release: the consent relied on (of the record's first
// patient; every patient had one) and that patient's hash.
type Outcome struct {
	Ref     Ref
	Patient PatientHash
}

// Check decides whether a record of contentType may go to peer for
// purpose at now. It returns the outcome of a release or a *Refusal. Every
// patient a record names must be permitted.
func (g *Gate) Check(ctx context.Context, peer, contentType string, body []byte, purpose string, now time.Time) (Outcome, error) {
	sub, err := SubjectOf(contentType, body)
	if err != nil {
		return Outcome{}, &Refusal{Reason: PatientUnknown, Detail: err.Error()}
	}
	purpose, err = g.purposeOf(contentType, body, purpose)
	if err != nil {
		return Outcome{}, &Refusal{Reason: PurposeNotPermitted, Patient: g.Hasher.Hash(sub.Patients[0]), Detail: err.Error(), Err: err}
	}
	req := Request{Recipient: g.Orgs[peer], Purpose: purpose, Classes: sub.Classes, Time: now}
	var out Outcome
	for i, p := range sub.Patients {
		cs, err := g.consents(ctx, p, now)
		if err != nil {
			return Outcome{}, &Refusal{Reason: NoConsent, Patient: g.Hasher.Hash(p), Detail: err.Error()}
		}
		d := Decide(cs, req)
		if !d.Permit {
			return Outcome{}, &Refusal{Reason: d.Reason, Patient: g.Hasher.Hash(p)}
		}
		if i == 0 {
			out = Outcome{Ref: d.Consent.Ref(), Patient: g.Hasher.Hash(p)}
		}
	}
	return out, nil
}

// consents are the patient's Consents on file and, with Fetch, in the EHR.
func (g *Gate) consents(ctx context.Context, patient string, now time.Time) ([]*Consent, error) {
	cs := g.Store.ForPatient(patient)
	if g.Fetch == nil {
		return cs, nil
	}
	more, err := g.Fetch.ForPatient(ctx, patient, now)
	if err != nil {
		return nil, err
	}
	return append(cs[:len(cs):len(cs)], more...), nil
}

// CheckPatient decides for one patient key directly (the CLI's check).
func (g *Gate) CheckPatient(patient, peer, purpose string, classes []string, now time.Time) Decision {
	if purpose == "" {
		purpose = g.purpose()
	}
	return Decide(g.Store.ForPatient(patient), Request{Recipient: g.Orgs[peer], Purpose: purpose, Classes: classes, Time: now})
}

// ErrPurposeConflict: a record's Purpose header and its MSH-8 name
// different purposes of use.
var ErrPurposeConflict = errors.New("consent: the Purpose header and MSH-8 name different purposes of use")

// purposeOf is a record's purpose of use: the Purpose header (header), else
// for HL7 v2 the code in MSH-8 (hl7.PurposeOfUse), else the configured
// default. A header and an MSH-8 that disagree are refused rather than
// one chosen: the consent relied on must be for the purpose the record
// states.
func (g *Gate) purposeOf(contentType string, body []byte, header string) (string, error) {
	if !isHL7(contentType) {
		return cmp.Or(header, g.purpose()), nil
	}
	msh, err := hl7.PurposeOfUse(body)
	switch {
	case err != nil:
		return "", err
	case header != "" && msh != "" && header != msh:
		return "", fmt.Errorf("%w; send one purpose, or make them agree", ErrPurposeConflict)
	}
	return cmp.Or(header, msh, g.purpose()), nil
}

func (g *Gate) purpose() string {
	if g.DefaultPurpose != "" {
		return g.DefaultPurpose
	}
	return DefaultPurpose
}

// AsRefusal returns err's *Refusal, if it is one.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}
