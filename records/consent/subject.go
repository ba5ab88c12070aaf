package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Subject is what a record says about whom it concerns and what it holds.
type Subject struct {
	Patients []string // patient keys, deduplicated, in order of appearance
	Classes  []string // data classes (meta.security codes)
}

// maxPatients bounds the patients one record may name.
const maxPatients = 1024

// ErrNoPatient: the record names no patient the box can read.
var ErrNoPatient = errors.New("consent: record names no patient")

// Content types this package reads.
const (
	fhirJSON = "application/fhir+json"
	hl7v2    = "application/hl7-v2"
)

// SubjectOf reads a record's patients and data classes: for FHIR JSON the
// subject or patient reference of the resource or of every Bundle entry;
// for HL7 v2, PID-3 of every PID segment.
func SubjectOf(contentType string, body []byte) (Subject, error) {
	ct, _, _ := strings.Cut(contentType, ";")
	switch strings.TrimSpace(ct) {
	case hl7v2:
		return hl7Subject(body)
	case fhirJSON, "application/json":
		return fhirSubject(body)
	}
	return Subject{}, fmt.Errorf("%w: content type %q is neither FHIR JSON nor HL7 v2", ErrNoPatient, contentType)
}

type fhirResource struct {
	ResourceType string   `json:"resourceType"`
	ID           string   `json:"id"`
	Subject      *jsonRef `json:"subject"`
	Patient      *jsonRef `json:"patient"`
	Meta         *struct {
		Security []jsonCoding `json:"security"`
	} `json:"meta"`
	Entry []struct {
		Resource *fhirResource `json:"resource"`
	} `json:"entry"`
}

func fhirSubject(body []byte) (Subject, error) {
	var r fhirResource
	if err := json.Unmarshal(body, &r); err != nil {
		return Subject{}, fmt.Errorf("%w: not FHIR JSON: %w", ErrNoPatient, err)
	}
	var s Subject
	if err := s.addResource(&r, 0); err != nil {
		return Subject{}, err
	}
	if len(s.Patients) == 0 {
		return Subject{}, fmt.Errorf("%w: %s has no subject or patient reference (Patient/<id> or identifier)", ErrNoPatient, r.ResourceType)
	}
	return s, nil
}

func (s *Subject) addResource(r *fhirResource, depth int) error {
	if depth > 2 {
		return nil
	}
	if r.ResourceType == "Patient" && validID(r.ID) {
		s.addPatient(r.ID) // a Patient resource is about itself
	}
	for _, ref := range []*jsonRef{r.Subject, r.Patient} {
		if ref == nil {
			continue
		}
		if k := refKey(ref, "Patient/"); k != "" {
			s.addPatient(k)
		}
	}
	if r.Meta != nil {
		for _, c := range r.Meta.Security {
			s.addClass([]byte(c.Code))
		}
	}
	for _, e := range r.Entry {
		if e.Resource == nil {
			continue
		}
		if err := s.addResource(e.Resource, depth+1); err != nil {
			return err
		}
	}
	if len(s.Patients) > maxPatients {
		return fmt.Errorf("%w: more than %d patients in one record", ErrNoPatient, maxPatients)
	}
	return nil
}

func (s *Subject) addClass(c []byte) {
	if len(c) > 0 && len(c) <= 64 && len(s.Classes) < maxList && !slices.Contains(s.Classes, string(c)) {
		s.Classes = append(s.Classes, string(c))
	}
}

// firstComponent is the first component of a field's first repetition.
func firstComponent(f []byte, comp, rep byte) []byte {
	if i := bytes.IndexByte(f, rep); i >= 0 {
		f = f[:i]
	}
	if i := bytes.IndexByte(f, comp); i >= 0 {
		f = f[:i]
	}
	return f
}

func (s *Subject) addPatient(k string) {
	if !slices.Contains(s.Patients, k) {
		s.Patients = append(s.Patients, k)
	}
}

// hl7Subject reads PID-3 (first repetition, first component) of every PID
// segment, and the data classes of ARV segments (HL7 v2.9 access
// restrictions: ARV-3, table 0717, e.g. PSY).
func hl7Subject(msg []byte) (Subject, error) {
	if len(msg) < 8 || string(msg[:3]) != "MSH" {
		return Subject{}, fmt.Errorf("%w: HL7 message does not start with MSH", ErrNoPatient)
	}
	fs, comp, rep := msg[3], msg[4], msg[5]
	var s Subject
	for seg := range bytes.FieldsFuncSeq(msg, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if len(seg) < 4 || seg[3] != fs {
			continue
		}
		if string(seg[:3]) == "ARV" {
			s.addClass(firstComponent(field(seg, fs, 3), comp, rep))
			continue
		}
		if string(seg[:3]) != "PID" {
			continue
		}
		f := firstComponent(field(seg, fs, 3), comp, rep)
		if len(f) > 0 && len(f) <= 128 {
			s.addPatient(string(f))
		}
		if len(s.Patients) > maxPatients {
			return Subject{}, fmt.Errorf("%w: more than %d patients in one message", ErrNoPatient, maxPatients)
		}
	}
	if len(s.Patients) == 0 {
		return Subject{}, fmt.Errorf("%w: HL7 message has no PID segment with PID-3", ErrNoPatient)
	}
	return s, nil
}

// field returns field n of a segment (the segment name is field 0).
func field(seg []byte, fs byte, n int) []byte {
	for range n {
		i := bytes.IndexByte(seg, fs)
		if i < 0 {
			return nil
		}
		seg = seg[i+1:]
	}
	if i := bytes.IndexByte(seg, fs); i >= 0 {
		seg = seg[:i]
	}
	return seg
}
