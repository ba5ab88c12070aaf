package route

import (
	"strings"
	"testing"
)

const adt = "MSH|^~\\&|EPIC|STMARY|ADT^X|CITYGEN^1.2.3^ISO|20261124120000||ADT^A01|MSG1|P|2.5\rPID|1||X\r"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		want           Record
	}{
		{"hl7 v2", "application/hl7-v2", adt, Record{Kind: HL7v2, ReceivingApp: "ADT", ReceivingFacility: "CITYGEN"}},
		{"hl7 v2 charset", "application/hl7-v2; charset=utf-8", adt, Record{Kind: HL7v2, ReceivingApp: "ADT", ReceivingFacility: "CITYGEN"}},
		{"hl7 not a message", "application/hl7-v2", "PID|1\r", Record{Kind: Other}},
		{"fhir json", "application/fhir+json", `{"resourceType":"Observation","status":"final"}`, Record{Kind: FHIRJSON, ResourceType: "Observation"}},
		{"fhir json no type", "application/fhir+json", `{"status":"final"}`, Record{Kind: Other}},
		{"fhir xml", "application/fhir+xml", `<?xml version="1.0"?><Patient xmlns="http://hl7.org/fhir"><id value="1"/></Patient>`, Record{Kind: FHIRXML, ResourceType: "Patient"}},
		{"fhir xml prefixed", "application/fhir+xml", `<f:Bundle xmlns:f="http://hl7.org/fhir"/>`, Record{Kind: FHIRXML, ResourceType: "Bundle"}},
		{"fhir xml wrong ns", "application/fhir+xml", `<Patient xmlns="urn:other"/>`, Record{Kind: Other}},
		{"cda", "application/cda+xml", `<ClinicalDocument xmlns="urn:hl7-org:v3"><title>x</title></ClinicalDocument>`, Record{Kind: CDA}},
		{"cda as text/xml", "text/xml", `<ClinicalDocument xmlns="urn:hl7-org:v3"/>`, Record{Kind: CDA}},
		{"plain xml", "application/xml", `<note/>`, Record{Kind: Other}},
		{"pdf", "application/pdf", "%PDF-1.7", Record{Kind: Other}},
		{"bad content type", "a/b; ===", "x", Record{Kind: Other}},
	} {
		if got := Classify(tc.ct, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: Classify = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// The first route that takes a record wins; a record no route takes is
// not picked.
func TestPick(t *testing.T) {
	table := Table{
		{Content: HL7v2, ReceivingApp: "LAB"},
		{Content: HL7v2, ReceivingFacility: "CITYGEN"},
		{Content: FHIRJSON, ResourceType: "Observation"},
		{Content: FHIRJSON},
		{Content: CDA},
	}
	for _, tc := range []struct {
		r    Record
		want int
	}{
		{Record{Kind: HL7v2, ReceivingApp: "LAB", ReceivingFacility: "CITYGEN"}, 0},
		{Record{Kind: HL7v2, ReceivingApp: "ADT", ReceivingFacility: "CITYGEN"}, 1},
		{Record{Kind: HL7v2, ReceivingApp: "ADT", ReceivingFacility: "ELSEWHERE"}, -1},
		{Record{Kind: FHIRJSON, ResourceType: "Observation"}, 2},
		{Record{Kind: FHIRJSON, ResourceType: "Patient"}, 3},
		{Record{Kind: FHIRXML, ResourceType: "Patient"}, -1},
		{Record{Kind: CDA}, 4},
		{Record{Kind: Other}, -1},
	} {
		got, ok := table.Pick(tc.r)
		if got != tc.want || ok != (tc.want >= 0) {
			t.Errorf("Pick(%+v) = %d %v, want %d", tc.r, got, ok, tc.want)
		}
	}
	if i, ok := (Table{{Content: Any}}).Pick(Record{Kind: Other}); !ok || i != 0 {
		t.Errorf("an any route does not take an unknown record")
	}
}

func TestTableCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table Table
		want  []Finding
	}{
		{"disjoint", Table{{Content: HL7v2}, {Content: FHIRJSON}, {Content: CDA}}, nil},
		{"any first shadows all", Table{{Content: Any}, {Content: HL7v2}}, []Finding{{Route: 1, By: 0, Shadowed: true}}},
		{"same twice", Table{{Content: HL7v2, ReceivingApp: "LAB"}, {Content: HL7v2, ReceivingApp: "LAB"}}, []Finding{{Route: 1, By: 0, Shadowed: true}}},
		{"general before specific", Table{{Content: FHIRJSON}, {Content: FHIRJSON, ResourceType: "Observation"}}, []Finding{{Route: 1, By: 0, Shadowed: true}}},
		{"specific before general", Table{{Content: FHIRJSON, ResourceType: "Observation"}, {Content: FHIRJSON}}, nil},
		{"app and facility overlap", Table{{Content: HL7v2, ReceivingApp: "LAB"}, {Content: HL7v2, ReceivingFacility: "CITYGEN"}}, []Finding{{Route: 1, By: 0}}},
		{"catch-all last", Table{{Content: HL7v2}, {Content: Any}}, nil},
		{"any then typed with field", Table{{Content: Any}, {Content: CDA}}, []Finding{{Route: 1, By: 0, Shadowed: true}}},
	} {
		got := tc.table.Check()
		if len(got) != len(tc.want) {
			t.Errorf("%s: Check = %+v, want %+v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: Check = %+v, want %+v", tc.name, got, tc.want)
			}
		}
	}
}

func TestMatchCheck(t *testing.T) {
	for _, tc := range []struct {
		m    Match
		want string
	}{
		{Match{Content: "pdf"}, "not one of"},
		{Match{Content: FHIRJSON, ReceivingApp: "LAB"}, "HL7 v2 only"},
		{Match{ResourceType: "Patient"}, "FHIR only"},
		{Match{Content: HL7v2, ReceivingFacility: "X"}, ""},
		{Match{}, ""},
	} {
		err := tc.m.Check()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%+v) = %v, want %q", tc.m, err, tc.want)
		}
	}
}

// FuzzClassify: a record from a peer, whatever its bytes and content
// type, is classified without panic, and a kind it is given is one a
// route can name.
func FuzzClassify(f *testing.F) {
	f.Add("application/hl7-v2", adt)
	f.Add("application/fhir+json", `{"resourceType":"Patient"}`)
	f.Add("application/fhir+xml", `<Patient xmlns="http://hl7.org/fhir"/>`)
	f.Add("application/cda+xml", `<ClinicalDocument xmlns="urn:hl7-org:v3"/>`)
	f.Add("text/xml", "<a><<<")
	f.Add("application/hl7-v2", "MSH|")
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := Classify(ct, []byte(body))
		switch r.Kind {
		case FHIRJSON, FHIRXML, HL7v2, CDA, Other:
		default:
			t.Fatalf("kind %q", r.Kind)
		}
		if r.Kind != HL7v2 && (r.ReceivingApp != "" || r.ReceivingFacility != "") {
			t.Fatalf("MSH fields on a %s record", r.Kind)
		}
		if _, ok := (Table{{Content: Any}}).Pick(r); !ok {
			t.Fatal("an any route did not take it")
		}
	})
}
