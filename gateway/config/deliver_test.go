package config

import (
	"strings"
	"testing"
)

// records.deliver: routes parse with their defaults; a route an earlier
// one shadows is refused by name, an overlap is a warning; plain http off
// loopback, a bad scheme, a bad match and the shorthand next to routes
// are each refused with the key and the fix.
func TestDeliverRoutes(t *testing.T) {
	lan := "  lan_listen: 127.0.0.1:7480"
	routes := func(s string) string {
		return edit(t, lan, lan+"\n  deliver:\n"+s, "  deliver_url: http://127.0.0.1:8080/records\n", "")
	}
	for _, tc := range []struct {
		name, yaml, wantErr, wantWarn string
	}{
		{"two systems", routes(`    - {name: adt, match: {content: hl7v2, receiving_app: ADT}, endpoint: "mllps://10.1.0.21:2575", connection: per-message, ack_timeout: 10s}
    - {name: fhir, match: {content: fhir-json}, endpoint: "https://fhir.example/fhir", fhir_batch: true}`), "", ""},
		{"shadowed", routes(`    - {name: all-hl7, match: {content: hl7v2}, endpoint: "mllp://127.0.0.1:2575"}
    - {name: adt, match: {content: hl7v2, receiving_app: ADT}, endpoint: "mllp://127.0.0.1:2576"}`), `records.deliver[1]: route "adt" is never used: route "all-hl7"`, ""},
		{"overlap warned", routes(`    - {name: adt, match: {content: hl7v2, receiving_app: ADT}, endpoint: "mllp://127.0.0.1:2575"}
    - {name: citygen, match: {content: hl7v2, receiving_facility: CITYGEN}, endpoint: "mllp://127.0.0.1:2576"}`), "", `route "citygen" overlaps route "adt"`},
		{"catch-all last", routes(`    - {name: adt, match: {content: hl7v2, receiving_app: ADT}, endpoint: "mllp://127.0.0.1:2575"}
    - {name: rest, endpoint: "https://ehr.example/in"}`), "", ""},
		{"http off loopback", routes(`    - {endpoint: "http://10.1.0.5/in"}`), `records.deliver[0].endpoint: endpoint "http://10.1.0.5/in" is plain http off loopback`, ""},
		{"ftp", routes(`    - {endpoint: "ftp://10.1.0.5/in"}`), `scheme "ftp" is not https`, ""},
		{"fhir field on hl7", routes(`    - {match: {content: hl7v2, resource_type: Patient}, endpoint: "mllp://127.0.0.1:2575"}`), `records.deliver[0].match: resource_type matches FHIR only`, ""},
		{"bad connection", routes(`    - {endpoint: "mllp://127.0.0.1:2575", connection: sometimes}`), `connection "sometimes" is not pooled or per-message`, ""},
		{"duplicate name", routes(`    - {name: x, match: {content: cda}, endpoint: "https://a.example/"}
    - {name: x, match: {content: hl7v2}, endpoint: "mllp://127.0.0.1:1"}`), `records.deliver[1].name: "x" is already the name`, ""},
		{"shorthand too", routes(`    - {endpoint: "https://a.example/"}`) + "\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			if tc.name == "shorthand too" {
				y = strings.Replace(y, "  deliver:\n", "  deliver_mllp: 127.0.0.1:2575\n  deliver:\n", 1)
				tc.wantErr = "records.deliver: is set together with records.deliver_url or deliver_mllp"
			}
			c, err := Parse([]byte(y), "/etc/wardgate")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := strings.Join(c.RouteWarnings(), "\n")
			if (tc.wantWarn == "") != (w == "") || !strings.Contains(w, tc.wantWarn) {
				t.Fatalf("warnings %q, want %q", w, tc.wantWarn)
			}
			if rs := c.DeliveryRoutes(); len(rs) == 0 || rs[0].Name == "" {
				t.Fatalf("routes %+v", rs)
			}
		})
	}
}
