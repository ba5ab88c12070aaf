package config

import (
	"strings"
	"testing"

	"github.com/wardgate/wardgate/records/consent"
)

func TestConsentConfig(t *testing.T) {
	c, err := Parse([]byte(goodYAML), "/etc/wardgate")
	if err != nil {
		t.Fatal(err)
	}
	if c.Records.Consent != consent.ModeOff || c.Records.Purpose != consent.DefaultPurpose {
		t.Fatalf("defaults: consent %q purpose %q", c.Records.Consent, c.Records.Purpose)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad mode", edit(t, "  lan_listen: 127.0.0.1:7480", "  lan_listen: 127.0.0.1:7480\n  consent: maybe"), `records.consent: "maybe" is not one of [off audit required]`},
		{"bad fhir url", edit(t, "  lan_listen: 127.0.0.1:7480", "  lan_listen: 127.0.0.1:7480\n  consent_fhir_url: ehr:8080"), `records.consent_fhir_url: "ehr:8080" is not an http(s) URL`},
		{"required needs organisations", edit(t, "  lan_listen: 127.0.0.1:7480", "  lan_listen: 127.0.0.1:7480\n  consent: required"), `peers[0].organization: is required with records.consent: required`},
	} {
		_, err := Parse([]byte(tc.yaml), "/etc/wardgate")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	ok := edit(t, "  lan_listen: 127.0.0.1:7480", "  lan_listen: 127.0.0.1:7480\n  consent: required\n  purpose: ETREAT",
		"    allowed_ips: [10.9.0.2/32, 192.168.20.0/24]", "    allowed_ips: [10.9.0.2/32, 192.168.20.0/24]\n    organization: urn:oid:2.16.840.1.113883.3.42")
	c, err = Parse([]byte(ok), "/etc/wardgate")
	if err != nil {
		t.Fatal(err)
	}
	if c.Records.Consent != consent.ModeRequired || c.Records.Purpose != "ETREAT" || c.Peers[0].Organization != "urn:oid:2.16.840.1.113883.3.42" {
		t.Fatalf("parsed %+v %+v", c.Records, c.Peers[0])
	}
}
