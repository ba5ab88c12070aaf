package consent

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wardgate/wardgate/records/hl7"
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
	hl7v2    = hl7.HL7ContentType
)

// SubjectOf reads a record's patients and data classes: for FHIR JSON the
// subject or patient reference of the resource or of every Bundle entry;
// for HL7 v2, PID-3 of every PID segment.
func SubjectOf(contentType string, body []byte) (Subject, error) {
	switch mediaType(contentType) {
	case hl7v2:
		return hl7Subject(body)
	case fhirJSON, "application/json":
		return fhirSubject(body)
	}
	return Subject{}, fmt.Errorf("%w: content type %q is neither FHIR JSON nor HL7 v2", ErrNoPatient, contentType)
}

// mediaType is a content type without its parameters.
func mediaType(contentType string) string {
	ct, _, _ := strings.Cut(contentType, ";")
	return strings.TrimSpace(ct)
}

func isHL7(contentType string) bool { return mediaType(contentType) == hl7v2 }

// fhirSubject reads the subject and patient references and the
// meta.security codes of a FHIR JSON record, and of its Bundle entries, in
// one pass over the bytes (jsonscan.go); the rest is validated, not
// decoded. It reads the fields json.Unmarshal would fill, with the same key
// matching and type rules, except that it is stricter in two ways: a key
// that repeats is read at every occurrence (json.Unmarshal keeps the last),
// so a record cannot hide a patient behind a duplicate key that the
// receiving server may read instead; and nesting deeper than maxJSONDepth
// is refused.
func fhirSubject(body []byte) (Subject, error) {
	sc := scanner{b: body}
	var s Subject
	rt, err := s.resource(&sc, 0)
	if err == nil {
		err = sc.end()
	}
	if err != nil {
		return Subject{}, fmt.Errorf("%w: %w", ErrNoPatient, err)
	}
	if len(s.Patients) == 0 {
		return Subject{}, fmt.Errorf("%w: %s has no subject or patient reference (Patient/<id> or identifier)", ErrNoPatient, rt.String())
	}
	return s, nil
}

// jsonStr is a string value as scanned: raw bytes between the quotes.
type jsonStr struct {
	raw   []byte
	plain bool // raw is the value (ASCII, no escapes)
}

func (v jsonStr) String() string { return decoded(v.raw, v.plain) }

// is compares the value with a constant without allocating.
func (v jsonStr) is(want string) bool {
	if v.plain {
		return string(v.raw) == want
	}
	return v.String() == want
}

// typeErr is a field of a type json.Unmarshal would refuse. The field's
// path comes in parts, joined only here, off the hot path.
func typeErr(want string, path ...string) error {
	return fmt.Errorf("%s must be %s or null", strings.Join(path, ""), want)
}

// strField consumes a string-or-null field into *dst (null leaves it).
func strField(sc *scanner, dst *jsonStr, field ...string) error {
	switch sc.next() {
	case 'n':
		return sc.literal("null")
	case '"':
		raw, plain, err := sc.str()
		*dst = jsonStr{raw, plain}
		return err
	}
	return typeErr("a string", field...)
}

// objectField consumes an object-or-null field, calling field for its keys.
func objectField(sc *scanner, field func(key []byte, plain bool) error, name ...string) error {
	switch sc.next() {
	case 'n':
		return sc.literal("null")
	case '{':
		return sc.object(field)
	}
	return typeErr("an object", name...)
}

// arrayField consumes an array-or-null field, calling elem for each element.
func arrayField(sc *scanner, elem func() error, name ...string) error {
	switch sc.next() {
	case 'n':
		return sc.literal("null")
	case '[':
		return sc.array(elem)
	}
	return typeErr("an array", name...)
}

// resourceKeys are the fields of a resource the gate reads.
var resourceKeys = []string{"resourceType", "id", "subject", "patient", "meta", "entry"}

// matchKey returns the name in names that key selects, or "".
func matchKey(raw []byte, plain bool, names []string) string {
	if plain {
		for _, n := range names {
			if string(raw) == n {
				return n
			}
		}
	}
	for _, n := range names {
		if keyIs(raw, plain, n) {
			return n
		}
	}
	return ""
}

// resource reads one resource (or null) and returns its resourceType.
// Patients and classes are taken from the top and two levels of entries,
// as before; deeper ones are only checked.
func (s *Subject) resource(sc *scanner, depth int) (jsonStr, error) {
	add := depth <= 2
	var rt, id jsonStr
	err := objectField(sc, func(k []byte, plain bool) error {
		switch name := matchKey(k, plain, resourceKeys); name {
		case "resourceType":
			return strField(sc, &rt, name)
		case "id":
			return strField(sc, &id, name)
		case "subject", "patient":
			return s.ref(sc, name, add)
		case "meta":
			return s.meta(sc, add)
		case "entry":
			return arrayField(sc, func() error {
				return objectField(sc, func(k []byte, plain bool) error {
					if keyIs(k, plain, "resource") {
						_, err := s.resource(sc, depth+1)
						return err
					}
					return sc.skip()
				}, "entry[]")
			}, "entry")
		}
		return sc.skip()
	}, "resource")
	if err != nil {
		return rt, err
	}
	if add && rt.is("Patient") {
		if v := id.String(); validID(v) {
			return rt, s.addPatient(v) // a Patient resource is about itself
		}
	}
	return rt, nil
}

// ref reads a subject or patient Reference: its reference Patient/<id>,
// else its identifier.value. Every one is read where keys repeat; the
// identifier is passed over only when one valid reference names the
// patient, as refKey does.
func (s *Subject) ref(sc *scanner, name string, add bool) error {
	var refBuf, idBuf [1]jsonStr
	refs, idents := refBuf[:0], idBuf[:0]
	err := objectField(sc, func(k []byte, plain bool) error {
		switch {
		case keyIs(k, plain, "reference"):
			var v jsonStr
			err := strField(sc, &v, name, ".reference")
			refs = append(refs, v)
			return err
		case keyIs(k, plain, "identifier"):
			return objectField(sc, func(k []byte, plain bool) error {
				var v jsonStr
				switch {
				case keyIs(k, plain, "value"):
					err := strField(sc, &v, name, ".identifier.value")
					idents = append(idents, v)
					return err
				case keyIs(k, plain, "system"):
					return strField(sc, &v, name, ".identifier.system")
				}
				return sc.skip()
			}, name, ".identifier")
		}
		return sc.skip()
	}, name)
	if err != nil || !add {
		return err
	}
	valid := 0
	for _, r := range refs {
		if id, ok := strings.CutPrefix(r.String(), "Patient/"); ok && validID(id) {
			valid++
			if err := s.addPatient(id); err != nil {
				return err
			}
		}
	}
	if valid == 1 && len(refs) == 1 {
		return nil
	}
	for _, v := range idents {
		if v := v.String(); v != "" && len(v) <= 128 {
			if err := s.addPatient(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// meta reads meta.security[].code, the record's data classes.
func (s *Subject) meta(sc *scanner, add bool) error {
	return objectField(sc, func(k []byte, plain bool) error {
		if !keyIs(k, plain, "security") {
			return sc.skip()
		}
		return arrayField(sc, func() error {
			var code, system jsonStr
			err := objectField(sc, func(k []byte, plain bool) error {
				switch {
				case keyIs(k, plain, "code"):
					return strField(sc, &code, "meta.security[].code")
				case keyIs(k, plain, "system"):
					return strField(sc, &system, "meta.security[].system")
				}
				return sc.skip()
			}, "meta.security[]")
			if err == nil && add {
				s.addClass(code.raw, code.plain)
			}
			return err
		}, "meta.security")
	}, "meta")
}

// addClass adds a data class (raw bytes, plain as jsonStr.plain).
func (s *Subject) addClass(raw []byte, plain bool) {
	c := jsonStr{raw, plain}.String()
	if len(c) > 0 && len(c) <= 64 && len(s.Classes) < maxList && !slices.Contains(s.Classes, c) {
		s.Classes = append(s.Classes, c)
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

// addPatient adds a patient key once; more than maxPatients is an error.
func (s *Subject) addPatient(k string) error {
	if slices.Contains(s.Patients, k) {
		return nil
	}
	if len(s.Patients) == maxPatients {
		return fmt.Errorf("more than %d patients in one record", maxPatients)
	}
	s.Patients = append(s.Patients, k)
	return nil
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
			s.addClass(firstComponent(field(seg, fs, 3), comp, rep), true)
			continue
		}
		if string(seg[:3]) != "PID" {
			continue
		}
		f := firstComponent(field(seg, fs, 3), comp, rep)
		if len(f) > 0 && len(f) <= 128 {
			if err := s.addPatient(string(f)); err != nil {
				return Subject{}, fmt.Errorf("%w: %w", ErrNoPatient, err)
			}
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
