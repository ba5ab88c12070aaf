package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

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
	if u := r.ConsentFHIRURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			k.add("records.consent_fhir_url", "%q is not an http(s) URL; write the FHIR base, e.g. https://ehr.example/fhir", u)
		}
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

// ConsentDir is where the box keeps the Consents posted to it and the
// patient-hash salt.
func (c *Config) ConsentDir() string { return filepath.Join(c.StateDir, "consents") }

// ConsentGate opens the consent store and returns the gate this config
// describes (in mode off it decides nothing, but the consent API still
// takes Consents, so a box can be filled before the gate is switched on).
func (c *Config) ConsentGate() (*consent.Gate, error) {
	st, err := consent.Open(c.ConsentDir())
	if err != nil {
		return nil, err
	}
	h, err := consent.LoadHasher(c.ConsentDir())
	if err != nil {
		return nil, err
	}
	orgs := make(map[string]string, len(c.Peers))
	for _, p := range c.Peers {
		if p.Organization != "" {
			orgs[p.Name] = p.Organization
		}
	}
	g := &consent.Gate{Mode: c.Records.Consent, Store: st, Hasher: h, Orgs: orgs, DefaultPurpose: c.Records.Purpose}
	if u := c.Records.ConsentFHIRURL; u != "" {
		g.Fetch = &consent.Fetcher{Base: strings.TrimSuffix(u, "/")}
	}
	return g, nil
}
