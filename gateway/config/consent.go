package config

import (
	"fmt"
	"slices"

	"github.com/wardgate/wardgate/records/consent"
)

// validateConsent checks records.consent and records.purpose, filling the
// defaults, and that a gate that refuses knows each peer's organisation.
func (c *Config) validateConsent(k *checker) {
	r := &c.Records
	if r.Consent == "" {
		r.Consent = consent.ModeOff
	}
	if !slices.Contains(consent.Modes(), r.Consent) {
		k.add("records.consent", "%q is not one of %v", r.Consent, consent.Modes())
	}
	if r.Purpose == "" {
		r.Purpose = consent.DefaultPurpose
	} else if len(r.Purpose) > 64 {
		k.add("records.purpose", "is %d characters; use a purpose-of-use code such as TREAT", len(r.Purpose))
	}
	if r.Consent != consent.ModeRequired {
		return
	}
	for i, p := range c.Peers {
		if p.Organization == "" {
			k.add(fmt.Sprintf("peers[%d].organization", i), "is required with records.consent: required; set peer %q's organisation identifier as its Consents name it", p.Name)
		}
	}
}
