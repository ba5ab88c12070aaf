package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// consentJSON builds a Consent: permit to org for purposes in a period,
// with extra nested provisions.
func consentJSON(id, patient, status, org, purpose, end, nested string) string {
	period := `"period":{"start":"2026-01-01"` + map[bool]string{true: `,"end":"` + end + `"`, false: ""}[end != ""] + `},`
	return fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":%q,"patient":{"reference":"Patient/%s"},"dateTime":"2026-01-01",
"provision":{"type":"permit",%s"actor":[{"reference":{"identifier":{"system":"urn:oid:1.2","value":%q}}}],
"purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":%q}]%s}}`, id, status, patient, period, org, purpose, nested)
}

const denyPSY = `,"provision":[{"type":"deny","securityLabel":[{"code":"PSY"}]}]`

func newGate(t testing.TB) *Gate {
	t.Helper()
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := LoadHasher(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Gate{Mode: ModeRequired, Store: st, Hasher: h, Orgs: map[string]string{"bravo": "org-bravo", "charlie": "org-charlie"}}
}

func put(t testing.TB, g *Gate, js string) *Consent {
	t.Helper()
	c, err := g.Store.Put([]byte(js))
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	return c
}

func obs(patient, security string) string {
	sec := ""
	if security != "" {
		sec = `"meta":{"security":[{"code":"` + security + `"}]},`
	}
	return `{"resourceType":"Observation",` + sec + `"subject":{"reference":"Patient/` + patient + `"}}`
}

func TestDecisions(t *testing.T) {
	g := newGate(t)
	put(t, g, consentJSON("c-ok", "p1", "active", "org-bravo", "TREAT", "", denyPSY))
	put(t, g, consentJSON("c-exp", "p2", "active", "org-bravo", "TREAT", "2026-03-01", ""))
	put(t, g, consentJSON("c-wd", "p3", "inactive", "org-bravo", "TREAT", "", ""))
	put(t, g, consentJSON("c-draft", "p4", "draft", "org-bravo", "TREAT", "", ""))
	for _, tc := range []struct {
		name, peer, purpose, body string
		want                      Reason
	}{
		{"permit", "bravo", "TREAT", obs("p1", ""), ""},
		{"default purpose", "bravo", "", obs("p1", ""), ""},
		{"no consent", "bravo", "TREAT", obs("p9", ""), NoConsent},
		{"draft is no consent", "bravo", "TREAT", obs("p4", ""), NoConsent},
		{"expired", "bravo", "TREAT", obs("p2", ""), NoConsent},
		{"withdrawn", "bravo", "TREAT", obs("p3", ""), ConsentWithdrawn},
		{"wrong purpose", "bravo", "HMARKT", obs("p1", ""), PurposeNotPermitted},
		{"wrong recipient", "charlie", "TREAT", obs("p1", ""), RecipientNotPermitted},
		{"peer without organisation", "delta", "TREAT", obs("p1", ""), RecipientNotPermitted},
		{"excluded class", "bravo", "TREAT", obs("p1", "PSY"), DataClassExcluded},
		{"other class passes", "bravo", "TREAT", obs("p1", "N"), ""},
		{"no patient", "bravo", "TREAT", `{"resourceType":"Observation"}`, PatientUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := g.Check(context.Background(), tc.peer, "application/fhir+json", []byte(tc.body), tc.purpose, now)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if out.Ref.ID != "c-ok" || out.Ref.Version == "" {
					t.Fatalf("released under %+v, want c-ok", out.Ref)
				}
				return
			}
			r, ok := AsRefusal(err)
			if !ok || r.Reason != tc.want {
				t.Fatalf("got %v, want refusal %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "p1") || strings.Contains(err.Error(), "p9") {
				t.Fatalf("refusal %q shows a patient id in clear", err)
			}
		})
	}
}

func TestDenyWinsOverAnotherPermit(t *testing.T) {
	g := newGate(t)
	put(t, g, consentJSON("c-a", "p1", "active", "org-bravo", "TREAT", "", ""))
	put(t, g, consentJSON("c-b", "p1", "active", "org-bravo", "TREAT", "", denyPSY))
	_, err := g.Check(context.Background(), "bravo", "application/fhir+json", []byte(obs("p1", "PSY")), "TREAT", now)
	if r, ok := AsRefusal(err); !ok || r.Reason != DataClassExcluded {
		t.Fatalf("got %v, want data_class_excluded", err)
	}
}

func TestBundleTwoPatients(t *testing.T) {
	g := newGate(t)
	put(t, g, consentJSON("c-1", "p1", "active", "org-bravo", "TREAT", "", ""))
	bundle := `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + obs("p1", "") + `},{"resource":` + obs("p2", "") + `}]}`
	_, err := g.Check(context.Background(), "bravo", "application/fhir+json", []byte(bundle), "TREAT", now)
	r, ok := AsRefusal(err)
	if !ok || r.Reason != NoConsent || r.Patient != g.Hasher.Hash("p2") {
		t.Fatalf("got %v, want no_consent naming p2's hash", err)
	}
	if !strings.Contains(err.Error(), g.Hasher.Hash("p2").String()) {
		t.Fatalf("refusal %q does not name the patient's hash", err)
	}
	put(t, g, consentJSON("c-2", "p2", "active", "org-bravo", "TREAT", "", ""))
	if _, err := g.Check(context.Background(), "bravo", "application/fhir+json", []byte(bundle), "TREAT", now); err != nil {
		t.Fatalf("both consented, still refused: %v", err)
	}
}

func TestWithdrawalAppliesToNextRecord(t *testing.T) {
	g := newGate(t)
	put(t, g, consentJSON("c-1", "p1", "active", "org-bravo", "TREAT", "", ""))
	if _, err := g.Check(context.Background(), "bravo", "application/fhir+json", []byte(obs("p1", "")), "TREAT", now); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Store.Withdraw("c-1", now); err != nil {
		t.Fatal(err)
	}
	_, err := g.Check(context.Background(), "bravo", "application/fhir+json", []byte(obs("p1", "")), "TREAT", now)
	if r, ok := AsRefusal(err); !ok || r.Reason != ConsentWithdrawn {
		t.Fatalf("after withdrawal got %v, want consent_withdrawn", err)
	}
	// The withdrawal survives a restart.
	st, err := Open(g.Store.dir)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := st.Get("c-1"); c == nil || c.Status != StatusInactive {
		t.Fatalf("reloaded consent %+v, want inactive", c)
	}
}

func TestHL7PID3(t *testing.T) {
	g := newGate(t)
	put(t, g, consentJSON("c-1", "MRN123", "active", "org-bravo", "TREAT", "", ""))
	msg := "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rPID|1||MRN123^^^HOSP~X9||DOE^JOHN\r"
	if _, err := g.Check(context.Background(), "bravo", "application/hl7-v2", []byte(msg), "", now); err != nil {
		t.Fatalf("refused: %v", err)
	}
	msg = strings.Replace(msg, "MRN123", "MRN999", 1)
	if _, err := g.Check(context.Background(), "bravo", "application/hl7-v2", []byte(msg), "", now); err == nil {
		t.Fatal("released without consent")
	}
}

func TestMalformedNamesPath(t *testing.T) {
	good := consentJSON("c-1", "p1", "active", "org-bravo", "TREAT", "", "")
	for _, tc := range []struct{ body, path string }{
		{`{"resourceType":"Patient"}`, "Consent.resourceType"},
		{strings.Replace(good, `"id":"c-1"`, `"id":"a b"`, 1), "Consent.id"},
		{strings.Replace(good, `"status":"active"`, `"status":"ok"`, 1), "Consent.status"},
		{strings.Replace(good, `"patient":{"reference":"Patient/p1"}`, `"patient":{}`, 1), "Consent.patient"},
		{strings.Replace(good, `"start":"2026-01-01"`, `"start":"yesterday"`, 1), "Consent.provision.period.start"},
		{consentJSON("c-1", "p1", "active", "o", "TREAT", "", `,"provision":[{"type":"permit"},{"type":"maybe"}]`), "Consent.provision.provision[1].type"},
		{strings.Replace(good, `"code":"TREAT"`, `"code":""`, 1), "Consent.provision.purpose[0].code"},
		{strings.Replace(good, `"value":"org-bravo"`, `"value":""`, 1), "Consent.provision.actor[0].reference"},
		{`{"resourceType":"Consent","id":"x","status":"active","patient":{"reference":"Patient/p"}}`, "Consent.provision"},
		{`[1,2]`, "Consent: not FHIR JSON"},
	} {
		_, err := Parse([]byte(tc.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.path+":") {
			t.Errorf("%s: got %v", tc.path, err)
		}
	}
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(consentJSON("c-1", "p1", "active", "org-bravo", "TREAT", "2027-01-01", denyPSY)))
	f.Add([]byte(`{"resourceType":"Consent","provision":{"provision":[{"provision":[{}]}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		Decide([]*Consent{c}, Request{Recipient: "org-bravo", Purpose: "TREAT", Classes: []string{"PSY"}, Time: now})
	})
}

func FuzzSubject(f *testing.F) {
	f.Add("application/fhir+json", []byte(obs("p1", "PSY")))
	f.Add("application/hl7-v2", []byte("MSH|^~\\&|A\rPID|1||X^^^H\r"))
	f.Fuzz(func(t *testing.T, ct string, b []byte) {
		s, err := SubjectOf(ct, b)
		if err == nil && len(s.Patients) == 0 {
			t.Fatal("no error and no patient")
		}
	})
}
