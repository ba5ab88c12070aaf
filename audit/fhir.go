package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// FHIR R4 AuditEvent (http://hl7.org/fhir/R4/auditevent.html): the same
// event as the ATNA message, with the same DICOM codes, for hospitals that
// collect FHIR. Only the elements wardgate fills.

// Bundle is a FHIR searchset Bundle of AuditEvents.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Total        int           `json:"total"`
	Entry        []BundleEntry `json:"entry"`
}

// BundleEntry holds one AuditEvent.
type BundleEntry struct {
	FullURL  string     `json:"fullUrl"`
	Resource AuditEvent `json:"resource"`
}

// AuditEvent is a FHIR R4 AuditEvent.
type AuditEvent struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Type         Coding        `json:"type"`
	Subtype      []Coding      `json:"subtype"`
	Action       string        `json:"action"`
	Recorded     string        `json:"recorded"`
	Outcome      string        `json:"outcome"`
	OutcomeDesc  string        `json:"outcomeDesc,omitempty"`
	Agent        []Agent       `json:"agent"`
	Source       Source        `json:"source"`
	Entity       []AuditEntity `json:"entity,omitempty"`
}

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Reference is a FHIR Reference by display or identifier.
type Reference struct {
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Identifier is a FHIR Identifier.
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value"`
}

// Agent is an AuditEvent.agent.
type Agent struct {
	Role      []CodeableConcept `json:"role,omitempty"`
	Who       Reference         `json:"who"`
	Requestor bool              `json:"requestor"`
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding"`
}

// Source is AuditEvent.source.
type Source struct {
	Observer Reference `json:"observer"`
	Type     []Coding  `json:"type"`
}

// AuditEntity is AuditEvent.entity: an object by digest or id.
type AuditEntity struct {
	What Reference `json:"what"`
	Type Coding    `json:"type"`
	Role Coding    `json:"role"`
}

// FHIR code systems for the entity type, role and source type.
const (
	entityTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	entityRoleSystem = "http://terminology.hl7.org/CodeSystem/object-role"
	sourceTypeSystem = "http://terminology.hl7.org/CodeSystem/security-source-type"
)

// FHIRBundle is events as a searchset Bundle of AuditEvents.
func FHIRBundle(events []Event) Bundle {
	b := Bundle{ResourceType: "Bundle", Type: "searchset", Total: len(events), Entry: []BundleEntry{}}
	for _, e := range events {
		ae, err := FHIR(e)
		if err != nil {
			continue // an unknown kind never reaches the ring (Emit's callers use the constants)
		}
		b.Entry = append(b.Entry, BundleEntry{FullURL: "urn:uuid:" + ae.ID, Resource: ae})
	}
	b.Total = len(b.Entry)
	return b
}

// FHIR is e as an AuditEvent, coded as its ATNA message is.
func FHIR(e Event) (AuditEvent, error) {
	m, err := ATNA(e)
	if err != nil {
		return AuditEvent{}, err
	}
	ae := AuditEvent{
		ResourceType: "AuditEvent",
		ID:           eventID(e),
		Type:         fhirCoding(m.Event.EventID),
		Action:       m.Event.ActionCode,
		Recorded:     e.Time.UTC().Format(time.RFC3339Nano),
		Outcome:      m.Event.Outcome,
		OutcomeDesc:  m.Event.OutcomeDescription,
		Source: Source{Observer: Reference{Display: m.Source.ID},
			Type: []Coding{{System: sourceTypeSystem, Code: m.Source.TypeCodes[0].Code, Display: "Application Server"}}},
	}
	for _, t := range m.Event.TypeCodes {
		ae.Subtype = append(ae.Subtype, fhirCoding(t))
	}
	for _, p := range m.Participants {
		a := Agent{Who: Reference{Display: p.UserID}, Requestor: p.IsRequestor}
		for _, r := range p.RoleIDCodes {
			a.Role = append(a.Role, CodeableConcept{Coding: []Coding{fhirCoding(r)}})
		}
		ae.Agent = append(ae.Agent, a)
	}
	for _, o := range m.ParticipantObj {
		ae.Entity = append(ae.Entity, AuditEntity{
			What: Reference{Identifier: &Identifier{System: codeSystemURI(o.IDType.System) + "#" + o.IDType.Code, Value: o.ID}},
			Type: Coding{System: entityTypeSystem, Code: o.TypeCode},
			Role: Coding{System: entityRoleSystem, Code: o.Role},
		})
	}
	return ae, nil
}

func fhirCoding(c CodedValue) Coding {
	return Coding{System: codeSystemURI(c.System), Code: c.Code, Display: c.OriginalText}
}

// codeSystemURI is the FHIR system URI of an ATNA code system name.
func codeSystemURI(name string) string {
	switch name {
	case dcmSystem:
		return dcmSystemURI
	case "RFC-3881":
		return "http://terminology.hl7.org/CodeSystem/rfc-3881"
	}
	return name
}

// eventID is a stable id: the same event always gets the same id, so a
// collector that fetches overlapping windows can deduplicate.
func eventID(e Event) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%x\x00%s\x00%s\x00%d",
		e.Kind, e.Time.UTC().Format(time.RFC3339Nano), e.Box, e.Peer, e.Actor, e.Digest, e.Object, e.Code, e.Outcome)
	s := hex.EncodeToString(h.Sum(nil)[:16])
	// A UUID-shaped id (FHIR ids are at most 64 of [A-Za-z0-9-.]).
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// outcomeString is the outcome code as text (for tests and logs).
func (o Outcome) String() string { return strconv.Itoa(int(o)) }
