// Package audit is the box's audit trail in the forms hospitals already
// collect: IHE ATNA audit messages (the DICOM PS3.15 A.5 AuditMessage XML)
// carried as RFC 5424 syslog over TLS (RFC 5425) to the hospital's SIEM,
// and FHIR R4 AuditEvent resources for the report API.
//
// An Event names boxes, peers, digests, codes and certificate subjects,
// never record content or patient identifiers: records appear by their
// SHA-256 digest only. Emit never blocks the caller (the record path): a
// receiver outage fills a bounded buffer and then drops, counted.
package audit

import (
	"encoding/hex"
	"time"
)

// Kind is what happened. The set is closed: Kinds lists it.
type Kind string

// The audited events.
const (
	AttestationPass Kind = "attestation-pass" // a peer's evidence appraised and passed
	AttestationFail Kind = "attestation-fail" // a peer's evidence appraised and failed
	Admission       Kind = "admission"        // a peer entered the tunnel
	Revocation      Kind = "revocation"       // a peer left the tunnel (failed, refused, expired)
	Quarantine      Kind = "quarantine"       // this box runs on ephemeral keys: its sealed keys belong to another boot state
	RecordSent      Kind = "record-sent"      // a record forwarded to a peer and countersigned
	RecordReceived  Kind = "record-received"  // a record from a peer delivered and journaled
	RecordRefused   Kind = "record-refused"   // a record send refused or failed
	ConfigLoad      Kind = "config-load"      // the daemon loaded its configuration
	ControlAccess   Kind = "control-access"   // a request on the CLI's control socket
	APIAccess       Kind = "api-access"       // a request on the security team's report API
)

// Kinds is every Kind, in a fixed order.
func Kinds() []Kind {
	return []Kind{AttestationPass, AttestationFail, Admission, Revocation, Quarantine,
		RecordSent, RecordReceived, RecordRefused, ConfigLoad, ControlAccess, APIAccess}
}

// Outcome is the DICOM/FHIR event outcome indicator.
type Outcome int

// Outcomes as DICOM PS3.15 A.5 and FHIR R4 AuditEvent.outcome code them.
const (
	Success      Outcome = 0
	MinorFailure Outcome = 4
	SeriousFail  Outcome = 8
)

// Event is one audited event. Every field is a name, a code or a digest.
type Event struct {
	Kind    Kind
	Time    time.Time
	Outcome Outcome
	// Box is this box (the audit source).
	Box string
	// Peer is the other box, when there is one.
	Peer string
	// Actor is who asked, for access events: a client certificate's
	// subject, or the uid on the control socket.
	Actor string
	// Digest is the SHA-256 of the object: a record, a report, the
	// effective configuration. Zero when there is none.
	Digest [32]byte
	// Object names a non-record object: an attestation report id, an API
	// path. Never a record's content.
	Object string
	// Code is a short machine reason (a reason code, an HTTP method).
	Code string
}

// DigestHex is the digest as lowercase hex, or "" when unset.
func (e Event) DigestHex() string {
	if e.Digest == ([32]byte{}) {
		return ""
	}
	return hex.EncodeToString(e.Digest[:])
}

// coded is one DICOM or wardgate code.
type coded struct {
	Code, System, Display string
}

// DICOM's code system name in ATNA messages and its URI in FHIR.
const (
	dcmSystem     = "DCM"
	dcmSystemURI  = "http://dicom.nema.org/resources/ontology/DCM"
	wardgateCodes = "urn:wardgate:audit"
)

// eventCodes is how each Kind is coded: the DICOM EventID, its DICOM
// EventTypeCode, and the action (C create, R read, E execute). Every
// message also carries the Kind itself as a second EventTypeCode in
// wardgate's code system, so a SIEM rule can tell them apart.
var eventCodes = map[Kind]struct {
	id, typ coded
	action  string
}{
	AttestationPass: {dcm("110113", "Security Alert"), dcm("110126", "Node Authentication"), "E"},
	AttestationFail: {dcm("110113", "Security Alert"), dcm("110126", "Node Authentication"), "E"},
	Admission:       {dcm("110113", "Security Alert"), dcm("110128", "Network Configuration"), "E"},
	Revocation:      {dcm("110113", "Security Alert"), dcm("110128", "Network Configuration"), "E"},
	Quarantine:      {dcm("110113", "Security Alert"), dcm("110131", "Software Configuration"), "E"},
	RecordSent:      {dcm("110106", "Export"), dcm("110106", "Export"), "R"},
	RecordReceived:  {dcm("110107", "Import"), dcm("110107", "Import"), "C"},
	RecordRefused:   {dcm("110106", "Export"), dcm("110106", "Export"), "R"},
	ConfigLoad:      {dcm("110100", "Application Activity"), dcm("110120", "Application Start"), "E"},
	ControlAccess:   {dcm("110112", "Query"), dcm("110112", "Query"), "E"},
	APIAccess:       {dcm("110112", "Query"), dcm("110112", "Query"), "E"},
}

func dcm(code, display string) coded { return coded{code, dcmSystem, display} }

// kindCode is the Kind in wardgate's code system.
func (k Kind) code() coded { return coded{string(k), wardgateCodes, string(k)} }

// Known reports whether k is one of Kinds.
func (k Kind) Known() bool { _, ok := eventCodes[k]; return ok }
