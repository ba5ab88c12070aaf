// Package fhir is the FHIR side of the record exchange at the byte level:
// splitting bulk NDJSON bodies, sniffing a resource's type, building batch
// Bundles and reading batch-response Bundles. It holds no HTTP client and
// no relay state; records calls it with bodies and bounds.
package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const (
	// ContentType is a single FHIR resource in JSON.
	ContentType = "application/fhir+json"
	// NDJSONContentType is FHIR Bulk Data: one resource (JSON) per line.
	NDJSONContentType = "application/fhir+ndjson"
)

// MaxBundleEntries bounds one batch Bundle: a larger set of records is
// split into Bundles of this many. FHIR servers cap batch size (HAPI's
// default is a few hundred); 256 keeps the request count low without
// testing that cap.
const MaxBundleEntries = 256

var (
	// ErrTooMany: an NDJSON body holds more records than the caller allows.
	ErrTooMany = errors.New("fhir: too many records in one NDJSON body")
	// ErrEmpty: an NDJSON body holds no record.
	ErrEmpty = errors.New("fhir: NDJSON body holds no records (one FHIR resource per line)")
	// ErrNotBatchResponse: a server's answer to a batch Bundle is not a
	// batch-response Bundle with one entry per record.
	ErrNotBatchResponse = errors.New("fhir: the answer is not a FHIR batch-response Bundle")
)

// SplitNDJSON returns the non-empty lines of an NDJSON body (aliasing it)
// and their 1-based line numbers. More than max records is ErrTooMany, none
// is ErrEmpty.
func SplitNDJSON(body []byte, max int) ([][]byte, []int, error) {
	var recs [][]byte
	var nums []int
	n := 0
	for len(body) > 0 {
		n++
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(recs) == max {
			return nil, nil, fmt.Errorf("%w: more than %d; split it", ErrTooMany, max)
		}
		recs, nums = append(recs, line), append(nums, n)
	}
	if len(recs) == 0 {
		return nil, nil, ErrEmpty
	}
	return recs, nums, nil
}

// ResourceType returns the resourceType of a FHIR JSON record, or "" if it
// is not one (a name of up to 64 letters and digits, starting upper-case).
func ResourceType(body []byte) string {
	var r struct {
		ResourceType string `json:"resourceType"`
	}
	if json.Unmarshal(body, &r) != nil || r.ResourceType == "" || len(r.ResourceType) > 64 {
		return ""
	}
	for i, c := range r.ResourceType {
		if !(c >= 'A' && c <= 'Z' || i > 0 && c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return ""
		}
	}
	return r.ResourceType
}

// BatchBundle is a batch Bundle that POSTs each resource to its type
// (types[k] is the ResourceType of resources[k]):
//
//	{"resourceType":"Bundle","type":"batch","entry":[
//	  {"resource":<record>,"request":{"method":"POST","url":"<its resourceType>"}}, ...]}
//
// The resources are copied in as they are, not re-encoded: they are the
// signed records.
func BatchBundle(resources [][]byte, types []string) []byte {
	n := 64
	for _, r := range resources {
		n += len(r) + 80
	}
	b := make([]byte, 0, n)
	b = append(b, `{"resourceType":"Bundle","type":"batch","entry":[`...)
	for k, r := range resources {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"resource":`...)
		b = append(b, r...)
		b = append(b, `,"request":{"method":"POST","url":"`...)
		b = append(b, types[k]...)
		b = append(b, `"}}`...)
	}
	return append(b, "]}"...)
}

// Response is one entry's answer in a batch-response Bundle.
type Response struct {
	Status  string            `json:"status"`
	Outcome *OperationOutcome `json:"outcome"`
}

// OK reports a 2xx status: the entry was taken (FHIR R4 3.1.0.11.6).
func (r Response) OK() bool { return strings.HasPrefix(strings.TrimSpace(r.Status), "2") }

// ParseBatchResponse reads a batch-response Bundle answering a batch of
// want entries and returns each entry's response, in order.
func ParseBatchResponse(raw []byte, want int) ([]Response, error) {
	var br struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response Response `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &br); err != nil || br.ResourceType != "Bundle" || br.Type != "batch-response" {
		return nil, ErrNotBatchResponse
	}
	if len(br.Entry) != want {
		return nil, fmt.Errorf("%w: %d entries for %d records", ErrNotBatchResponse, len(br.Entry), want)
	}
	out := make([]Response, len(br.Entry))
	for k, e := range br.Entry {
		out[k] = e.Response
	}
	return out, nil
}

// OperationOutcome is the part of an OperationOutcome a refusal quotes.
type OperationOutcome struct {
	Issue []struct {
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

// Text is the outcome's first issue for the refusal the sender sees (""
// when none is given), bounded so a chatty server cannot bloat the error.
func (o *OperationOutcome) Text() string {
	if o == nil || len(o.Issue) == 0 {
		return ""
	}
	is := o.Issue[0]
	t := strings.TrimSuffix(strings.TrimSpace(is.Code+": "+is.Diagnostics), ":")
	if len(t) > 200 {
		t = t[:200] + "..."
	}
	return " (" + t + ")"
}
