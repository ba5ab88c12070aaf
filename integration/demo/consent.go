package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/integration/cluster"
)

// The consent part of the demo (issue 17): b runs with records.consent:
// required and sends a one record refused for lack of consent and one
// released under a Consent its EHR posted, whose id the receipt shows.

// orgOf is the organisation identifier the demo gives hospital name.
func orgOf(name string) string { return "urn:demo:hospital-" + name }

// prepareConsent turns b's consent gate on and names each of its peers'
// organisations; it takes effect when b starts.
func prepareConsent(c *cluster.Cluster) error {
	b := c.Box("b")
	if err := b.SetConfig("records.consent", "required"); err != nil {
		return err
	}
	data, err := os.ReadFile(b.ConfigPath)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("demo: %s: %w", b.ConfigPath, err)
	}
	peers, _ := doc["peers"].([]any)
	for _, p := range peers {
		if m, ok := p.(map[string]any); ok {
			name, _ := m["name"].(string)
			m["organization"] = orgOf(name)
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(b.ConfigPath, out, 0o644)
}

const demoConsent = `{"resourceType":"Consent","id":"consent-0001","status":"active",
"patient":{"reference":"Patient/demo-1"},"dateTime":"2026-01-01",
"provision":{"type":"permit","actor":[{"reference":{"identifier":{"value":"%s"}}}],"purpose":[{"code":"TREAT"}],
"provision":[{"type":"deny","securityLabel":[{"code":"PSY"}]}]}}`

func demoObservation(patient string) []byte {
	return []byte(`{"resourceType":"Observation","status":"final","code":{"text":"HbA1c"},"subject":{"reference":"Patient/` + patient + `"},"valueString":"6.1 %"}`)
}

// consentRecords: b's EHR sends a record about a patient without consent
// (refused, 403 no_consent), posts a Consent for another patient and sends
// that patient's record (released; the receipt names the consent).
func consentRecords(ctx context.Context, c *cluster.Cluster) error {
	b := c.Box("b")
	step("consent: b runs with records.consent: required; b's EHR sends two Observations to a")
	code, out, err := b.PostRecord(ctx, "a", "application/fhir+json", demoObservation("demo-2"))
	if err != nil {
		return err
	}
	var refusal struct{ Code, Error string }
	json.Unmarshal(out, &refusal)
	if code != http.StatusForbidden || refusal.Code != "no_consent" {
		return fmt.Errorf("record without consent: %d %s, want 403 no_consent", code, out)
	}
	fmt.Printf("  patient demo-2 (no consent on file) -> %d %s: %s\n", code, refusal.Code, refusal.Error)
	if err := postConsent(ctx, b, fmt.Sprintf(demoConsent, orgOf("a"))); err != nil {
		return err
	}
	fmt.Printf("  POST /v1/consents consent-0001 (patient demo-1 permits %s for TREAT) -> 201\n", orgOf("a"))
	code, out, err = b.PostRecord(ctx, "a", "application/fhir+json", demoObservation("demo-1"))
	if err != nil {
		return err
	}
	var rc struct {
		Consent *struct{ ID, Version, Digest string } `json:"consent"`
	}
	if json.Unmarshal(out, &rc); code != http.StatusOK || rc.Consent == nil {
		return fmt.Errorf("record with consent: %d %.300s", code, out)
	}
	fmt.Printf("  patient demo-1 -> 200, receipt consent: id %s, version %s, digest %s\n", rc.Consent.ID, rc.Consent.Version, rc.Consent.Digest[:16])
	return nil
}

func postConsent(ctx context.Context, b *cluster.Box, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.LAN()+"/v1/consents", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := b.LANClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /v1/consents: %d %s", resp.StatusCode, out)
	}
	return nil
}
