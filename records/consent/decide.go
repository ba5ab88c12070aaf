package consent

import (
	"slices"
	"time"
)

// Reason is why a record was refused; it is the refusal's code on the wire
// and in the journal.
type Reason string

// Refusal reasons.
const (
	NoConsent             Reason = "no_consent"
	ConsentWithdrawn      Reason = "consent_withdrawn"
	PurposeNotPermitted   Reason = "purpose_not_permitted"
	RecipientNotPermitted Reason = "recipient_not_permitted"
	DataClassExcluded     Reason = "data_class_excluded"
	PatientUnknown        Reason = "patient_unknown"
)

// Request is what one record asks to do, for one patient.
type Request struct {
	Recipient string   // the receiving peer's organisation identifier
	Purpose   string   // purpose of use, e.g. TREAT
	Classes   []string // the record's data classes (FHIR meta.security codes)
	Time      time.Time
}

// Decision is the outcome for one patient.
type Decision struct {
	Permit  bool
	Reason  Reason   // set when !Permit
	Consent *Consent // the permitting consent, or the one whose deny matched
}

// rank orders refusal reasons from least to most specific: an explanation
// that names what to fix beats a bare no_consent.
func rank(r Reason) int {
	switch r {
	case ConsentWithdrawn:
		return 1
	case RecipientNotPermitted:
		return 2
	case PurposeNotPermitted:
		return 3
	case DataClassExcluded:
		return 4
	}
	return 0
}

// Decide evaluates a patient's consents (all versions on file, any status)
// for req. Deny by default: released only if an active consent permits and
// no active consent's deny provision matches.
func Decide(cs []*Consent, req Request) Decision {
	best := Decision{Reason: NoConsent}
	var permit *Consent
	for _, c := range cs {
		if c.Status != StatusActive {
			if c.Status == StatusInactive && rank(best.Reason) < rank(ConsentWithdrawn) {
				best = Decision{Reason: ConsentWithdrawn, Consent: c}
			}
			continue
		}
		ok, why := evaluate(&c.Provision, req)
		if !ok && denied(&c.Provision, req) {
			return Decision{Reason: why, Consent: c} // deny wins
		}
		if ok {
			if permit == nil || newer(c, permit) {
				permit = c
			}
			continue
		}
		if rank(why) > rank(best.Reason) {
			best = Decision{Reason: why, Consent: c}
		}
	}
	if permit != nil {
		return Decision{Permit: true, Consent: permit}
	}
	return best
}

func newer(a, b *Consent) bool { return a.DateTime.After(b.DateTime) }

// denied reports whether an explicit deny provision matched (as opposed to
// a permit that did not apply).
func denied(root *Provision, req Request) bool {
	if root.Type == Deny && applies(root, req) == "" {
		return true
	}
	return anyDeny(root.Provisions, req)
}

// evaluate applies one consent's provision tree to req.
func evaluate(root *Provision, req Request) (bool, Reason) {
	if root.Type == Permit {
		if why := applies(root, req); why != "" {
			return false, why
		}
		if anyDeny(root.Provisions, req) {
			return false, denyReason(root.Provisions, req)
		}
		return true, ""
	}
	// A base deny with permitted exceptions.
	if applies(root, req) == "" && !hasPermit(root.Provisions, req) {
		return false, denyReason([]Provision{*root}, req)
	}
	if anyDeny(root.Provisions, req) {
		return false, denyReason(root.Provisions, req)
	}
	if hasPermit(root.Provisions, req) {
		return true, ""
	}
	return false, NoConsent
}

// applies returns "" if every condition of p holds for req, else the
// reason of the first that does not.
func applies(p *Provision, req Request) Reason {
	switch {
	case !p.Period.covers(req.Time):
		return NoConsent
	case len(p.Actors) > 0 && !slices.Contains(p.Actors, req.Recipient):
		return RecipientNotPermitted
	case len(p.Purposes) > 0 && !slices.Contains(p.Purposes, req.Purpose):
		return PurposeNotPermitted
	case len(p.SecurityLabel) > 0 && !overlaps(p.SecurityLabel, req.Classes):
		return DataClassExcluded
	}
	return ""
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// anyDeny reports whether a deny provision in ps (at any depth) applies.
func anyDeny(ps []Provision, req Request) bool {
	for i := range ps {
		p := &ps[i]
		if p.Type == Deny && applies(p, req) == "" {
			return true
		}
		if anyDeny(p.Provisions, req) {
			return true
		}
	}
	return false
}

func hasPermit(ps []Provision, req Request) bool {
	for i := range ps {
		if ps[i].Type == Permit && applies(&ps[i], req) == "" {
			return true
		}
	}
	return false
}

// denyReason names what the matching deny provision restricts: a data
// class, else the recipient, else the purpose.
func denyReason(ps []Provision, req Request) Reason {
	for i := range ps {
		p := &ps[i]
		if p.Type == Deny && applies(p, req) == "" {
			switch {
			case len(p.SecurityLabel) > 0:
				return DataClassExcluded
			case len(p.Actors) > 0:
				return RecipientNotPermitted
			case len(p.Purposes) > 0:
				return PurposeNotPermitted
			}
			return NoConsent
		}
		if r := denyReason(p.Provisions, req); r != "" && anyDeny(p.Provisions, req) {
			return r
		}
	}
	return NoConsent
}
