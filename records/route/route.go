// Package route picks, for a record a peer sent, the hospital system that
// takes it: an ordered table of matches (content type; HL7 MSH-5/MSH-6;
// FHIR resource type), first match wins. It classifies a record from its
// content type and the first bytes of its body, and finds routes that
// overlap or can never match. It holds no endpoints and does no I/O, so a
// fuzzer and the config checker can use it alone.
package route

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/wardgate/wardgate/records/fhir"
	"github.com/wardgate/wardgate/records/hl7"
)

// Kind is what a record is, as routes match it.
type Kind string

// Kinds. Other is a record that is none of the named ones; only an Any
// route takes it.
const (
	Any      Kind = "any"
	FHIRJSON Kind = "fhir-json"
	FHIRXML  Kind = "fhir-xml"
	HL7v2    Kind = "hl7v2"
	CDA      Kind = "cda"
	Other    Kind = "other"
)

// Kinds lists the kinds a route may name, for error messages.
var Kinds = []Kind{FHIRJSON, FHIRXML, HL7v2, CDA, Any}

// ParseKind checks a route's content kind.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("content %q is not one of fhir-json, fhir-xml, hl7v2, cda, any", s)
}

// Match is what one route takes. Empty fields match anything.
type Match struct {
	Content Kind // Any (or empty) for every record
	// ReceivingApp and ReceivingFacility match HL7 MSH-5 and MSH-6 (their
	// first component); only for Content HL7v2.
	ReceivingApp      string
	ReceivingFacility string
	// ResourceType matches a FHIR resource's resourceType (root element
	// in XML); only for Content FHIRJSON or FHIRXML.
	ResourceType string
}

// Record is what a route sees of a record.
type Record struct {
	Kind              Kind
	ReceivingApp      string // HL7 MSH-5, first component
	ReceivingFacility string // HL7 MSH-6, first component
	ResourceType      string // FHIR
}

// Takes reports whether m takes r.
func (m Match) Takes(r Record) bool {
	if m.Content != "" && m.Content != Any && m.Content != r.Kind {
		return false
	}
	return field(m.ReceivingApp, r.ReceivingApp) && field(m.ReceivingFacility, r.ReceivingFacility) &&
		field(m.ResourceType, r.ResourceType)
}

func field(want, got string) bool { return want == "" || want == got }

// Check refuses a match whose fields do not apply to its content kind.
func (m Match) Check() error {
	k := m.Content
	if k == "" {
		k = Any
	}
	if _, err := ParseKind(string(k)); err != nil {
		return err
	}
	if (m.ReceivingApp != "" || m.ReceivingFacility != "") && k != HL7v2 {
		return fmt.Errorf("receiving_app and receiving_facility match HL7 v2 only; set content: hl7v2")
	}
	if m.ResourceType != "" && k != FHIRJSON && k != FHIRXML {
		return fmt.Errorf("resource_type matches FHIR only; set content: fhir-json or fhir-xml")
	}
	return nil
}

// covers reports whether every record b takes is taken by a.
func (a Match) covers(b Match) bool {
	ak, bk := norm(a.Content), norm(b.Content)
	if ak != Any && ak != bk {
		return false
	}
	return cover(a.ReceivingApp, b.ReceivingApp) && cover(a.ReceivingFacility, b.ReceivingFacility) &&
		cover(a.ResourceType, b.ResourceType)
}

// overlaps reports whether some record is taken by both a and b.
func (a Match) overlaps(b Match) bool {
	ak, bk := norm(a.Content), norm(b.Content)
	if ak != Any && bk != Any && ak != bk {
		return false
	}
	return meet(a.ReceivingApp, b.ReceivingApp) && meet(a.ReceivingFacility, b.ReceivingFacility) &&
		meet(a.ResourceType, b.ResourceType)
}

func norm(k Kind) Kind {
	if k == "" {
		return Any
	}
	return k
}

func cover(a, b string) bool { return a == "" || a == b }
func meet(a, b string) bool  { return a == "" || b == "" || a == b }

// Table is an ordered list of matches: the first that takes a record wins.
type Table []Match

// Pick returns the index of the first match that takes r.
func (t Table) Pick(r Record) (int, bool) {
	for i, m := range t {
		if m.Takes(r) {
			return i, true
		}
	}
	return -1, false
}

// Finding is one problem of a table: route Route is never used (Shadowed,
// every record it takes goes to By first) or shares some records with By
// (the earlier route takes them) while neither takes all the other's: an
// ambiguity. A narrow route before a broader one ("ADT to this engine,
// other HL7 to that one"; a catch-all last) is how tables are written and
// is no finding.
type Finding struct {
	Route, By int
	Shadowed  bool
}

// Check finds the routes an earlier route shadows entirely and the ones
// that partly overlap an earlier one.
func (t Table) Check() []Finding {
	var out []Finding
	for i := range t {
		for j := range i {
			if t[j].covers(t[i]) {
				out = append(out, Finding{Route: i, By: j, Shadowed: true})
				break
			}
			if t[j].overlaps(t[i]) && !t[i].covers(t[j]) {
				out = append(out, Finding{Route: i, By: j})
			}
		}
	}
	return out
}

// maxSniff bounds how much of a body Classify reads for an XML root.
const maxSniff = 4 << 10

// Classify says what a record is from its content type and its body: for
// HL7 v2 its MSH-5 and MSH-6, for FHIR its resource type. A body that does
// not parse as its content type says is Other (no typed route takes it).
func Classify(contentType string, body []byte) Record {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Record{Kind: Other}
	}
	switch mt {
	case "application/hl7-v2", "x-application/hl7-v2+er7", "application/x-hl7":
		return classifyHL7(body)
	case fhir.ContentType, "application/json+fhir":
		if t := fhir.ResourceType(body); t != "" {
			return Record{Kind: FHIRJSON, ResourceType: t}
		}
	case "application/fhir+xml", "application/xml+fhir":
		if name, ns := xmlRoot(body); ns == "http://hl7.org/fhir" && name != "" {
			return Record{Kind: FHIRXML, ResourceType: name}
		}
	case "application/cda+xml", "application/hl7-cda+xml", "application/xml", "text/xml":
		if name, ns := xmlRoot(body); name == "ClinicalDocument" && ns == "urn:hl7-org:v3" {
			return Record{Kind: CDA}
		}
	}
	return Record{Kind: Other}
}

func classifyHL7(body []byte) Record {
	end := bytes.IndexAny(body, "\r\n")
	if end < 0 {
		end = len(body)
	}
	m, err := hl7.ParseMSH(body[:end])
	if err != nil {
		return Record{Kind: Other}
	}
	return Record{Kind: HL7v2, ReceivingApp: first(m.ReceivingApp, m.Component()), ReceivingFacility: first(m.ReceivingFacility, m.Component())}
}

// first is an HL7 field's first component (a namespace ID).
func first(s string, comp byte) string {
	if i := strings.IndexByte(s, comp); i >= 0 {
		return s[:i]
	}
	return s
}

// xmlRoot is the local name and namespace of the root element, read from
// at most maxSniff bytes.
func xmlRoot(body []byte) (name, ns string) {
	d := xml.NewDecoder(io.LimitReader(bytes.NewReader(body), maxSniff))
	d.Strict = true
	for {
		tok, err := d.RawToken()
		if err != nil {
			return "", ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Space == "" && a.Name.Local == "xmlns" && se.Name.Space == "" {
					ns = a.Value
				}
				if a.Name.Space == "xmlns" && a.Name.Local == se.Name.Space {
					ns = a.Value
				}
			}
			return se.Name.Local, ns
		}
	}
}
