package records

import (
	"errors"
	"fmt"
	"strings"
)

// What crosses to the sending hospital when this box's hospital system
// does not take a record: a refusal code, this box's name, whether a
// retry may help, and a fixed sentence per code. Never the endpoint's URL
// or address, and never the system's own text (an HL7 MSA-3, a FHIR
// OperationOutcome): those name the hospital's internals or quote the
// patient, so this box logs them and keeps them.

// Delivery refusal codes.
const (
	codeDelivery             = "lan_endpoint_down"      // unreachable, or it failed (5xx)
	codeRejected             = "endpoint_rejected"      // it refused the record (4xx)
	codeNoRoute              = "no_route"               // no route takes the record
	codeEngineError          = "engine_error"           // HL7 AE
	codeEngineRejected       = "engine_rejected"        // HL7 AR
	codeEngineCommitError    = "engine_commit_error"    // HL7 CE (enhanced mode)
	codeEngineCommitRejected = "engine_commit_rejected" // HL7 CR (enhanced mode)
	codeAckTimeout           = "ack_timeout"            // no ACK in time
	codeAckMismatch          = "ack_mismatch"           // ACKs for another message, twice
	codeBadAck               = "bad_ack"                // an ACK that does not parse
)

// deliveryCodes is each delivery code's sentence and whether resending the
// same record may help.
var deliveryCodes = map[string]struct {
	retry bool
	text  string
}{
	codeDelivery:             {true, "the receiving hospital's system for this record is unreachable or failing"},
	codeRejected:             {false, "the receiving hospital's system refused the record"},
	codeNoRoute:              {false, "the receiving box has no delivery route for this kind of record"},
	codeEngineError:          {true, "the receiving HL7 engine answered AE (application error)"},
	codeEngineRejected:       {false, "the receiving HL7 engine answered AR (rejected)"},
	codeEngineCommitError:    {true, "the receiving HL7 engine answered CE (commit error)"},
	codeEngineCommitRejected: {false, "the receiving HL7 engine answered CR (commit rejected)"},
	codeAckTimeout:           {true, "the receiving HL7 engine did not acknowledge the record in time"},
	codeAckMismatch:          {true, "the receiving HL7 engine acknowledged another message, twice"},
	codeBadAck:               {true, "the receiving HL7 engine's acknowledgement did not parse"},
}

// retryable says whether resending the same record may help after a
// refusal with this code (delivery codes; the rest by their kind).
func retryable(code string) bool {
	if d, ok := deliveryCodes[code]; ok {
		return d.retry
	}
	switch code {
	case codeUnreachable, codeInternal, codeExpired, codeNotAdmitted:
		return true
	}
	return false
}

// deliveryError is a record this box's hospital system did not take. Its
// Error is for this box (it names the endpoint and quotes the system);
// public is what the sender learns.
type deliveryError struct {
	code   string
	route  string
	status int   // the HTTP status, if any
	err    error // the detail: URL, address, the system's text
}

func newDeliveryError(code, route string, detail error) *deliveryError {
	return &deliveryError{code: code, route: route, err: detail}
}

func (e *deliveryError) withStatus(s int) *deliveryError { e.status = s; return e }

func (e *deliveryError) Error() string {
	return fmt.Sprintf("%v: %s (route %q): %v", ErrDeliveryFailed, deliveryCodes[e.code].text, e.route, e.err)
}

func (e *deliveryError) Unwrap() error { return ErrDeliveryFailed }

// public is the sentence the sender learns.
func (e *deliveryError) public() string {
	s := deliveryCodes[e.code].text
	if e.status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.status)
	}
	return s
}

// publicText is what crosses to the sending box for err refused with
// code: a delivery refusal's fixed sentence; a generic sentence for an
// internal error; otherwise the error as this box wrote it, less the
// sentinel's prefix (the sender adds its own once).
func publicText(code string, err error) string {
	var de *deliveryError
	if errors.As(err, &de) {
		return de.public()
	}
	if code == codeInternal {
		return "the receiving box failed internally; it logged the details"
	}
	msg := err.Error()
	for _, s := range []error{ErrNotAdmitted, ErrVerdictExpired, ErrTooLarge, ErrBadRequest, ErrBadSignature, ErrNotReceived, ErrNotMLLP, ErrDeliveryFailed} {
		if errors.Is(err, s) {
			msg = strings.TrimPrefix(msg, s.Error()+": ")
			break
		}
	}
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	return msg
}

// Refusal is what a peer answered about a record it did not take: its
// code, its name, whether resending may help, and its sentence. It wraps
// the sentinel of its kind (ErrDeliveryFailed, ErrNotMLLP, ...).
type Refusal struct {
	Code      string
	Box       string
	Retryable bool
	Text      string
	kind      error
}

func (r *Refusal) Error() string {
	retry := "resending will not help"
	if r.Retryable {
		retry = "retry with the same record (idempotent by digest)"
	}
	who := "the receiving box"
	if r.Box != "" {
		who = fmt.Sprintf("box %q", r.Box)
	}
	return fmt.Sprintf("%v: %s refused it (%s): %s; %s", r.kind, who, r.Code, r.Text, retry)
}

func (r *Refusal) Unwrap() error { return r.kind }
