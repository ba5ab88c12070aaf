// Package consent decides whether a record may leave the box: a FHIR R4
// Consent resource on file must permit its patient, the receiving
// organisation, the purpose of use and the time, and no deny provision may
// match (deny wins; security labels exclude data classes such as PSY).
//
// The box is the enforcement point. Consents are policy, posted by the
// hospital's systems to POST /v1/consents and kept in the state dir
// (store.go); records carry their patient (FHIR subject/patient references,
// HL7 v2 PID-3; subject.go) and purpose. Patient identifiers never leave
// this package in clear: callers see a salted hash (hash.go).
package consent

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxConsentSize bounds one Consent resource.
const MaxConsentSize = 64 << 10

// maxProvisionDepth and maxList bound what one Consent may hold, so that a
// hostile resource cannot make a decision expensive.
const (
	maxProvisionDepth = 8
	maxList           = 256
)

// ErrMalformed is returned for a Consent that does not parse; the message
// names the FHIR path of the problem.
var ErrMalformed = errors.New("consent: malformed Consent")

// Status is a Consent's FHIR status.
type Status string

// The FHIR R4 Consent statuses.
const (
	StatusDraft          Status = "draft"
	StatusProposed       Status = "proposed"
	StatusActive         Status = "active"
	StatusRejected       Status = "rejected"
	StatusInactive       Status = "inactive"
	StatusEnteredInError Status = "entered-in-error"
)

func (s Status) valid() bool {
	switch s {
	case StatusDraft, StatusProposed, StatusActive, StatusRejected, StatusInactive, StatusEnteredInError:
		return true
	}
	return false
}

// ProvisionType is permit or deny.
type ProvisionType string

// Provision types.
const (
	Permit ProvisionType = "permit"
	Deny   ProvisionType = "deny"
)

// Period is a FHIR period; a zero end is open.
type Period struct {
	Start, End time.Time
}

// covers reports whether t lies in the period.
func (p Period) covers(t time.Time) bool {
	return (p.Start.IsZero() || !t.Before(p.Start)) && (p.End.IsZero() || t.Before(p.End))
}

// Provision is one rule of a Consent, with its nested exceptions.
type Provision struct {
	Type          ProvisionType
	Period        Period
	Actors        []string // organisation identifiers (or Organization/<id> ids)
	Purposes      []string // purpose-of-use codes, e.g. TREAT
	SecurityLabel []string // data classes, e.g. PSY, SDV
	Provisions    []Provision
}

// Consent is a parsed FHIR R4 Consent.
type Consent struct {
	ID        string
	Version   string // meta.versionId, or the store's count of this id
	Status    Status
	Patient   string // the patient key (see PatientKey)
	DateTime  time.Time
	Provision Provision
	// Digest is the SHA-256 of the resource bytes as posted; `wardgate
	// verify --consent FILE` checks a receipt against it.
	Digest [32]byte
}

// Ref names the consent a release relied on; it goes into the signed entry.
type Ref struct {
	ID      string
	Version string
	Digest  [32]byte
}

// Ref returns c's reference.
func (c *Consent) Ref() Ref { return Ref{ID: c.ID, Version: c.Version, Digest: c.Digest} }

// Wire shapes of the FHIR JSON this package reads.
type (
	jsonRef struct {
		Reference  string `json:"reference"`
		Identifier *struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	}
	jsonCoding struct {
		System string `json:"system"`
		Code   string `json:"code"`
	}
	jsonPeriod struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	jsonProvision struct {
		Type   string      `json:"type"`
		Period *jsonPeriod `json:"period"`
		Actor  []struct {
			Reference jsonRef `json:"reference"`
		} `json:"actor"`
		Purpose       []jsonCoding    `json:"purpose"`
		SecurityLabel []jsonCoding    `json:"securityLabel"`
		Provision     []jsonProvision `json:"provision"`
	}
	jsonConsent struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Meta         *struct {
			VersionID string `json:"versionId"`
		} `json:"meta"`
		Status    string         `json:"status"`
		Patient   *jsonRef       `json:"patient"`
		DateTime  string         `json:"dateTime"`
		Provision *jsonProvision `json:"provision"`
	}
)

// Parse reads one FHIR R4 Consent (JSON). Errors name the FHIR path, e.g.
// "Consent.provision.provision[1].type".
func Parse(b []byte) (*Consent, error) {
	if len(b) > MaxConsentSize {
		return nil, fmt.Errorf("%w: Consent: %d bytes, limit %d", ErrMalformed, len(b), MaxConsentSize)
	}
	var j jsonConsent
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: Consent: not FHIR JSON: %w", ErrMalformed, err)
	}
	c := &Consent{ID: j.ID, Status: Status(j.Status), Digest: sha256.Sum256(b)}
	if err := checkHead(&j, c); err != nil {
		return nil, err
	}
	if j.DateTime != "" {
		t, err := parseTime(j.DateTime)
		if err != nil {
			return nil, fmt.Errorf("%w: Consent.dateTime: %w", ErrMalformed, err)
		}
		c.DateTime = t
	}
	if j.Provision == nil {
		return nil, fmt.Errorf("%w: Consent.provision: missing; a consent the box can enforce needs a provision (type permit, with actor and purpose)", ErrMalformed)
	}
	p, err := parseProvision(j.Provision, "Consent.provision", 0, true)
	if err != nil {
		return nil, err
	}
	c.Provision = p
	return c, nil
}

// checkHead checks resourceType, id, status and patient.
func checkHead(j *jsonConsent, c *Consent) error {
	switch {
	case j.ResourceType != "Consent":
		return fmt.Errorf("%w: Consent.resourceType: is %q, want \"Consent\"", ErrMalformed, j.ResourceType)
	case !validID(j.ID):
		return fmt.Errorf("%w: Consent.id: %q must be 1-64 of A-Z a-z 0-9 - . (a FHIR id)", ErrMalformed, j.ID)
	case !c.Status.valid():
		return fmt.Errorf("%w: Consent.status: %q is not one of draft, proposed, active, rejected, inactive, entered-in-error", ErrMalformed, j.Status)
	case j.Patient == nil:
		return fmt.Errorf("%w: Consent.patient: missing; name the patient (reference Patient/<id> or identifier)", ErrMalformed)
	}
	if j.Meta != nil && j.Meta.VersionID != "" {
		if !validID(j.Meta.VersionID) {
			return fmt.Errorf("%w: Consent.meta.versionId: %q must be 1-64 of A-Z a-z 0-9 - and . (a FHIR id)", ErrMalformed, j.Meta.VersionID)
		}
		c.Version = j.Meta.VersionID
	}
	c.Patient = refKey(j.Patient, "Patient/")
	if c.Patient == "" {
		return fmt.Errorf("%w: Consent.patient: has neither reference Patient/<id> nor identifier.value", ErrMalformed)
	}
	return nil
}

// parseProvision converts one provision and, recursively, its nested ones.
func parseProvision(j *jsonProvision, path string, depth int, root bool) (Provision, error) {
	var p Provision
	if depth >= maxProvisionDepth {
		return p, fmt.Errorf("%w: %s: nested deeper than %d", ErrMalformed, path, maxProvisionDepth)
	}
	switch t := ProvisionType(j.Type); {
	case t == Permit || t == Deny:
		p.Type = t
	case t == "" && root:
		p.Type = Permit
	default:
		return p, fmt.Errorf("%w: %s.type: %q must be permit or deny", ErrMalformed, path, j.Type)
	}
	if len(j.Actor) > maxList || len(j.Purpose) > maxList || len(j.SecurityLabel) > maxList || len(j.Provision) > maxList {
		return p, fmt.Errorf("%w: %s: more than %d actors, purposes, labels or provisions", ErrMalformed, path, maxList)
	}
	if j.Period != nil {
		per, err := parsePeriod(j.Period, path+".period")
		if err != nil {
			return p, err
		}
		p.Period = per
	}
	for i := range j.Actor {
		k := refKey(&j.Actor[i].Reference, "Organization/")
		if k == "" {
			return p, fmt.Errorf("%w: %s.actor[%d].reference: needs identifier.value (the organisation identifier) or reference Organization/<id>", ErrMalformed, path, i)
		}
		p.Actors = append(p.Actors, k)
	}
	var err error
	if p.Purposes, err = codes(j.Purpose, path+".purpose"); err != nil {
		return p, err
	}
	if p.SecurityLabel, err = codes(j.SecurityLabel, path+".securityLabel"); err != nil {
		return p, err
	}
	for i := range j.Provision {
		sub, err := parseProvision(&j.Provision[i], fmt.Sprintf("%s.provision[%d]", path, i), depth+1, false)
		if err != nil {
			return p, err
		}
		p.Provisions = append(p.Provisions, sub)
	}
	return p, nil
}

func parsePeriod(j *jsonPeriod, path string) (Period, error) {
	var p Period
	var err error
	if j.Start != "" {
		if p.Start, err = parseTime(j.Start); err != nil {
			return p, fmt.Errorf("%w: %s.start: %w", ErrMalformed, path, err)
		}
	}
	if j.End != "" {
		if p.End, err = parseTime(j.End); err != nil {
			return p, fmt.Errorf("%w: %s.end: %w", ErrMalformed, path, err)
		}
	}
	if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
		return p, fmt.Errorf("%w: %s.end: is before start", ErrMalformed, path)
	}
	return p, nil
}

func codes(cs []jsonCoding, path string) ([]string, error) {
	out := make([]string, 0, len(cs))
	for i, c := range cs {
		if c.Code == "" || len(c.Code) > 64 {
			return nil, fmt.Errorf("%w: %s[%d].code: must be 1-64 characters, e.g. TREAT or PSY", ErrMalformed, path, i)
		}
		out = append(out, c.Code)
	}
	return out, nil
}

// parseTime reads a FHIR dateTime or date.
func parseTime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a FHIR dateTime (e.g. 2026-01-31 or 2026-01-31T10:00:00Z)", s)
}

// refKey is the key a reference names: the id after prefix in a relative
// reference, or else its identifier's value. One key space is assumed for
// patients (the MPI identifier is the FHIR Patient id and PID-3).
func refKey(r *jsonRef, prefix string) string {
	if id, ok := strings.CutPrefix(r.Reference, prefix); ok && validID(id) {
		return id
	}
	if r.Identifier != nil && r.Identifier.Value != "" && len(r.Identifier.Value) <= 128 {
		return r.Identifier.Value
	}
	return ""
}

// validID is the FHIR id rule: 1-64 of A-Z a-z 0-9 - .
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
