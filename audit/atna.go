package audit

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The ATNA AuditMessage, as DICOM PS3.15 Annex A.5.1 defines its schema
// (the successor of RFC 3881 that IHE ITI-20 repositories accept): only
// the elements wardgate fills. Coded values use DICOM's csd-code,
// codeSystemName and originalText attributes.

// Message is one AuditMessage.
type Message struct {
	XMLName        xml.Name              `xml:"AuditMessage"`
	Event          EventIdentification   `xml:"EventIdentification"`
	Participants   []ActiveParticipant   `xml:"ActiveParticipant"`
	Source         AuditSource           `xml:"AuditSourceIdentification"`
	ParticipantObj []ParticipantObjectID `xml:"ParticipantObjectIdentification,omitempty"`
}

// CodedValue is a DICOM coded value.
type CodedValue struct {
	Code         string `xml:"csd-code,attr"`
	System       string `xml:"codeSystemName,attr"`
	OriginalText string `xml:"originalText,attr,omitempty"`
}

// EventIdentification says what happened, when, and how it ended.
type EventIdentification struct {
	ActionCode string       `xml:"EventActionCode,attr"`
	DateTime   string       `xml:"EventDateTime,attr"`
	Outcome    string       `xml:"EventOutcomeIndicator,attr"`
	EventID    CodedValue   `xml:"EventID"`
	TypeCodes  []CodedValue `xml:"EventTypeCode"`
	// OutcomeDescription carries the reason code of a failure.
	OutcomeDescription string `xml:"EventOutcomeDescription,omitempty"`
}

// ActiveParticipant is a box or a user taking part.
type ActiveParticipant struct {
	UserID      string       `xml:"UserID,attr"`
	IsRequestor bool         `xml:"UserIsRequestor,attr"`
	RoleIDCodes []CodedValue `xml:"RoleIDCode,omitempty"`
}

// AuditSource is the box that saw the event.
type AuditSource struct {
	ID        string       `xml:"AuditSourceID,attr"`
	TypeCodes []CodedValue `xml:"AuditSourceTypeCode"`
}

// ParticipantObjectID names an object by digest or id, never by content.
type ParticipantObjectID struct {
	ID       string     `xml:"ParticipantObjectID,attr"`
	TypeCode string     `xml:"ParticipantObjectTypeCode,attr"`
	Role     string     `xml:"ParticipantObjectTypeCodeRole,attr"`
	IDType   CodedValue `xml:"ParticipantObjectIDTypeCode"`
}

// DICOM role ids of the participants.
var (
	roleSource      = CodedValue{"110153", dcmSystem, "Source Role ID"}
	roleDestination = CodedValue{"110152", dcmSystem, "Destination Role ID"}
	roleApplication = CodedValue{"110150", dcmSystem, "Application"}
	// sourceServer: an application server process (DICOM audit source type 4).
	sourceServer = CodedValue{"4", dcmSystem, "Application Server Process Tier in a multi-tier system"}
)

func (c coded) value() CodedValue { return CodedValue{c.Code, c.System, c.Display} }

// ATNA builds e's AuditMessage. It fails only on an unknown Kind.
func ATNA(e Event) (*Message, error) {
	codes, ok := eventCodes[e.Kind]
	if !ok {
		return nil, fmt.Errorf("audit: unknown event kind %q", e.Kind)
	}
	m := &Message{
		Event: EventIdentification{
			ActionCode: codes.action,
			DateTime:   e.Time.UTC().Format(time.RFC3339Nano),
			Outcome:    strconv.Itoa(int(e.Outcome)),
			EventID:    codes.id.value(),
			TypeCodes:  []CodedValue{codes.typ.value(), e.Kind.code().value()},
		},
		Participants: participants(e),
		Source:       AuditSource{ID: e.Box, TypeCodes: []CodedValue{sourceServer}},
	}
	if e.Outcome != Success {
		m.Event.OutcomeDescription = e.Code
	}
	m.ParticipantObj = objects(e)
	return m, nil
}

// participants are this box, the peer (source or destination by the
// direction of the record) and, for access events, the requesting user.
func participants(e Event) []ActiveParticipant {
	self := ActiveParticipant{UserID: e.Box, RoleIDCodes: []CodedValue{roleApplication}}
	var peer *ActiveParticipant
	if e.Peer != "" {
		peer = &ActiveParticipant{UserID: e.Peer}
	}
	switch e.Kind {
	case RecordSent, RecordRefused:
		self.IsRequestor = true
		self.RoleIDCodes = append(self.RoleIDCodes, roleSource)
		if peer != nil {
			peer.RoleIDCodes = []CodedValue{roleDestination}
		}
	case RecordReceived:
		self.RoleIDCodes = append(self.RoleIDCodes, roleDestination)
		if peer != nil {
			peer.IsRequestor = true
			peer.RoleIDCodes = []CodedValue{roleSource}
		}
	case ControlAccess, APIAccess:
		self.RoleIDCodes = append(self.RoleIDCodes, roleDestination)
	default:
		self.IsRequestor = true
	}
	ps := []ActiveParticipant{self}
	if peer != nil {
		ps = append(ps, *peer)
	}
	if e.Actor != "" {
		ps = append(ps, ActiveParticipant{UserID: e.Actor, IsRequestor: true, RoleIDCodes: []CodedValue{roleSource}})
	}
	return ps
}

// objectType is how an object's id is coded, by the kind of event.
func objectType(k Kind) (idType CodedValue, typeCode, role string) {
	switch k {
	case RecordSent, RecordReceived, RecordRefused:
		// A system object in the domain-resource role, named by digest.
		return CodedValue{"record-sha256", wardgateCodes, "SHA-256 of the record bytes"}, "2", "4"
	case ConfigLoad:
		return CodedValue{"config-sha256", wardgateCodes, "SHA-256 of the effective configuration"}, "2", "13"
	case ControlAccess, APIAccess:
		return CodedValue{"12", "RFC-3881", "URI"}, "2", "13"
	default:
		return CodedValue{"attestation-report", wardgateCodes, "attestation report id"}, "2", "3"
	}
}

// objects are the digest and the named object, each only when set.
func objects(e Event) []ParticipantObjectID {
	idType, tc, role := objectType(e.Kind)
	var out []ParticipantObjectID
	if d := e.DigestHex(); d != "" {
		out = append(out, ParticipantObjectID{ID: "sha256:" + d, TypeCode: tc, Role: role, IDType: idType})
	}
	if e.Object != "" {
		out = append(out, ParticipantObjectID{ID: e.Object, TypeCode: tc, Role: role, IDType: idType})
	}
	return out
}

// MarshalATNA is e's AuditMessage as XML (no declaration: the syslog
// message says UTF-8 by its BOM).
func MarshalATNA(e Event) ([]byte, error) {
	m, err := ATNA(e)
	if err != nil {
		return nil, err
	}
	b, err := xml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding %s message: %w", e.Kind, err)
	}
	return b, nil
}

// ParseATNA parses an AuditMessage and checks what ATNA requires of one:
// an EventID, a time, an outcome code, a participant and an audit source.
func ParseATNA(b []byte) (*Message, error) {
	if len(b) > MaxFrame {
		return nil, fmt.Errorf("audit: AuditMessage of %d bytes, limit %d", len(b), MaxFrame)
	}
	var m Message
	if err := xml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("audit: AuditMessage XML: %w", err)
	}
	ev := m.Event
	switch {
	case m.XMLName.Local != "AuditMessage":
		return nil, fmt.Errorf("audit: root element is %q, want AuditMessage", m.XMLName.Local)
	case ev.EventID.Code == "" || ev.EventID.System == "":
		return nil, errors.New("audit: EventIdentification has no EventID code")
	case len(m.Participants) == 0 || m.Participants[0].UserID == "":
		return nil, errors.New("audit: no ActiveParticipant with a UserID")
	case m.Source.ID == "":
		return nil, errors.New("audit: AuditSourceIdentification has no AuditSourceID")
	}
	if _, err := time.Parse(time.RFC3339Nano, ev.DateTime); err != nil {
		return nil, fmt.Errorf("audit: EventDateTime: %w", err)
	}
	switch ev.Outcome {
	case "0", "4", "8", "12":
	default:
		return nil, fmt.Errorf("audit: EventOutcomeIndicator %q is not 0, 4, 8 or 12", ev.Outcome)
	}
	for _, o := range m.ParticipantObj {
		if o.ID == "" || o.IDType.Code == "" {
			return nil, errors.New("audit: ParticipantObjectIdentification without an id or id type")
		}
	}
	return &m, nil
}
