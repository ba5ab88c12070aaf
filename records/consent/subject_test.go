package consent

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// refResource and refSubject are the gate's former reading of a FHIR
// record, by json.Unmarshal: the reference the one-pass scanner is checked
// against (FuzzFHIRSubjectAgrees).
type refResource struct {
	ResourceType string   `json:"resourceType"`
	ID           string   `json:"id"`
	Subject      *jsonRef `json:"subject"`
	Patient      *jsonRef `json:"patient"`
	Meta         *struct {
		Security []jsonCoding `json:"security"`
	} `json:"meta"`
	Entry []struct {
		Resource *refResource `json:"resource"`
	} `json:"entry"`
}

func refSubject(body []byte) (patients, classes []string, err error) {
	var r refResource
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, err
	}
	var walk func(r *refResource, depth int)
	walk = func(r *refResource, depth int) {
		if depth > 2 {
			return
		}
		if r.ResourceType == "Patient" && validID(r.ID) && !slices.Contains(patients, r.ID) {
			patients = append(patients, r.ID)
		}
		for _, ref := range []*jsonRef{r.Subject, r.Patient} {
			if ref == nil {
				continue
			}
			if k := refKey(ref, "Patient/"); k != "" && !slices.Contains(patients, k) {
				patients = append(patients, k)
			}
		}
		if r.Meta != nil {
			for _, c := range r.Meta.Security {
				if c.Code != "" && len(c.Code) <= 64 && !slices.Contains(classes, c.Code) {
					classes = append(classes, c.Code)
				}
			}
		}
		for _, e := range r.Entry {
			if e.Resource != nil {
				walk(e.Resource, depth+1)
			}
		}
	}
	walk(&r, 0)
	return patients, classes, nil
}

// subjectSeeds are records the scanner must read as json.Unmarshal did.
var subjectSeeds = []string{
	obs("p1", "PSY"),
	`{"resourceType":"Bundle","entry":[{"resource":` + obs("p1", "") + `},{"resource":` + obs("p2", "SDV") + `},null,{"resource":null}]}`,
	`{"resourceType":"Patient","id":"p7","name":[{"family":"X"}]}`,
	`{"resourceType":"Encounter","patient":{"identifier":{"system":"urn:mrn","value":"MRN-1"}}}`,
	`{"resourceType":"Encounter","patient":{"reference":"Patient/p2","identifier":{"value":"MRN-2"}}}`,
	`{"Subject":{"REFERENCE":"Patient/p3"},"meta":{"security":[{"code":"N"},null,{"system":"x"}]}}`,
	`{"resourceType":"Obs\u0065rvation","subject":{"reference":"Patient\/p\u0034"}}`,
	`{"ſubject":{"reference":"Patient/p5"}}`,
	`{"subject":{"reference":"Patient/p1"},"x":[1,-2.5e+3,true,false,null,{"a":"\"\\\u00e9\t"}],"y":{}}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":[{"resource":` + obs("deep", "") + `}]}}]}}]}`,
	` {"subject":{"reference":"Patient/p1"}} ` + "\n",
	`{"subject":"Patient/p1"}`,
	`{"subject":{"reference":5}}`,
	`{"entry":{}}`,
	`{"meta":{"security":{}}}`,
	`{"subject":{"reference":"Patient/p1"},}`,
	`{"subject":{"reference":"Patient/p1"}}x`,
	`{"a":01}`,
	`{"a":"\x"}`,
	"{\"a\":\"\x01\"}",
	`[]`, `null`, `"x"`, ``, `{`, `{"a"`, `{"a":}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":tru}`,
	"{\"subject\":{\"identifier\":{\"value\":\"\xff\xfe\"}}}",
}

// The one-pass scanner reads every patient and data class json.Unmarshal
// read, and accepts exactly the JSON json.Unmarshal accepted.
func TestFHIRSubjectAgrees(t *testing.T) {
	for _, s := range subjectSeeds {
		checkAgrees(t, []byte(s))
	}
}

// Where a key repeats, every occurrence is read: the record must not hide
// a patient from the gate behind a duplicate that a receiving server
// (reading the first, say) would use.
func TestFHIRSubjectDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"subject":{"reference":"Patient/a"},"subject":{"reference":"Patient/b"}}`, []string{"a", "b"}},
		{`{"subject":{"reference":"Patient/a","reference":"Patient/b"}}`, []string{"a", "b"}},
		{`{"subject":{"reference":"Patient/a","reference":"junk","identifier":{"value":"x"}}}`, []string{"a", "x"}},
		{`{"entry":[{"resource":` + obs("a", "") + `}],"entry":[{"resource":` + obs("b", "") + `}]}`, []string{"a", "b"}},
		{`{"subject":{"reference":"Patient/a"},"Subject":{"reference":"Patient/b"}}`, []string{"a", "b"}},
	} {
		s, err := SubjectOf("application/fhir+json", []byte(tc.body))
		if err != nil || !slices.Equal(s.Patients, tc.want) {
			t.Errorf("%s: patients %q, %v; want %q", tc.body, s.Patients, err, tc.want)
		}
	}
}

// Bad records are refused with ErrNoPatient, naming the field or offset.
func TestFHIRSubjectErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"subject":"Patient/p1"}`:                           "subject must be an object",
		`{"meta":{"security":[{"code":1}]}}`:                 "meta.security[].code must be a string",
		`{"subject":{"reference":"Patient/p1"}`:              "offset 37",
		`{"resourceType":"Observation","status":"final"}`:    "Observation has no subject or patient reference",
		strings.Repeat(`{"a":`, maxJSONDepth+1) + `{}` + "}": "nested more than 512 deep",
	} {
		_, err := SubjectOf("application/fhir+json", []byte(body))
		if !errors.Is(err, ErrNoPatient) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: %v, want ErrNoPatient naming %q", body, err, want)
		}
	}
	var many strings.Builder
	many.WriteString(`{"entry":[`)
	for i := range maxPatients + 1 {
		fmt.Fprintf(&many, `{"resource":{"subject":{"reference":"Patient/p%d"}}},`, i)
	}
	many.WriteString(`null]}`)
	if _, err := SubjectOf("application/fhir+json", []byte(many.String())); !errors.Is(err, ErrNoPatient) || !strings.Contains(err.Error(), "more than 1024 patients") {
		t.Errorf("%d patients: %v", maxPatients+1, err)
	}
}

func checkAgrees(t *testing.T, b []byte) {
	t.Helper()
	s, err := fhirSubject(b)
	rp, rc, rerr := refSubject(b)
	if errors.Is(err, errSyntax) && strings.Contains(err.Error(), "nested more than") {
		return // deeper than the scanner reads: refused, which is stricter
	}
	if (rerr != nil) != (err != nil && !strings.Contains(err.Error(), "has no subject")) {
		if rerr == nil && len(rp) > maxPatients {
			return
		}
		t.Fatalf("%q: scanner error %v, json.Unmarshal error %v", b, err, rerr)
	}
	if err != nil {
		return
	}
	for _, p := range rp {
		if !slices.Contains(s.Patients, p) {
			t.Fatalf("%q: scanner patients %q miss %q", b, s.Patients, p)
		}
	}
	for _, c := range rc {
		if !slices.Contains(s.Classes, c) {
			t.Fatalf("%q: scanner classes %q miss %q", b, s.Classes, c)
		}
	}
}

// FuzzFHIRSubjectAgrees: the scanner never panics, never reads fewer
// patients or classes than json.Unmarshal did, and refuses what it refused.
func FuzzFHIRSubjectAgrees(f *testing.F) {
	for _, s := range subjectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgrees(t, b) })
}
