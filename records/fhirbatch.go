package records

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/wardgate/wardgate/ledger/proof"
)

// FHIR batch delivery (Delivery.FHIRBatch): the FHIR records of one peer
// batch reach the hospital's FHIR server as one batch Bundle,
//
//	POST <deliver_url>
//	Content-Type: application/fhir+json
//	{"resourceType":"Bundle","type":"batch","entry":[
//	  {"resource":<record>,"request":{"method":"POST","url":"<its resourceType>"}}, ...]}
//
// and the server's batch-response Bundle gives each record its outcome, in
// order (FHIR R4 3.1.0.11.6): a 2xx entry status is delivered, anything
// else is a failed delivery of that record alone. A record that is not a
// FHIR resource (no resourceType), and every non-FHIR record, is POSTed on
// its own as usual. One request a batch instead of one a record is what
// the receiving box saves.

const fhirJSON = "application/fhir+json"

// maxBatchResponse bounds the FHIR server's answer.
const maxBatchResponse = 64 << 20

// maxBundleEntries bounds one batch Bundle: a peer batch of up to
// maxBatchRecords is split into Bundles of this many, delivered
// concurrently. FHIR servers cap batch size (HAPI's default is a few
// hundred); 256 keeps the request count low without testing that cap.
const maxBundleEntries = 256

// fhirType returns the resourceType of a FHIR JSON record, or "" if it is
// not one (then it is delivered alone).
func fhirType(body []byte) string {
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

// receiveFHIRBatch delivers items[idx] (checked FHIR records, types
// given) in one Bundle and journals each one delivered; outcomes go to
// recvs and errs. Records already journaled, or in flight elsewhere, are
// not delivered again.
func (r *Relay) receiveFHIRBatch(ctx context.Context, items []inbound, idx []int, types []string, recvs []*proof.Entry, errs []error) {
	type waiter struct {
		i int
		f *flight
	}
	var waits []waiter
	flights := map[int]*flight{}
	var todo []int
	var todoTypes []string
	for k, i := range idx {
		e := items[i].e
		f, mine := r.claim(e)
		if !mine {
			waits = append(waits, waiter{i, f})
			continue
		}
		flights[i] = f
		prev, err := r.receivedEntry(ctx, e)
		if err != nil || prev != nil {
			recvs[i], errs[i] = prev, err
			r.release(e, f, prev, err)
			continue
		}
		todo, todoTypes = append(todo, i), append(todoTypes, types[k])
	}
	if len(todo) > 0 {
		out := make([]error, len(todo))
		var dwg sync.WaitGroup
		for lo := 0; lo < len(todo); lo += maxBundleEntries {
			hi := min(lo+maxBundleEntries, len(todo))
			dwg.Add(1)
			go func() {
				defer dwg.Done()
				copy(out[lo:hi], r.deliverFHIRBatch(ctx, items, todo[lo:hi], todoTypes[lo:hi]))
			}()
		}
		dwg.Wait()
		var wg sync.WaitGroup
		for k, i := range todo {
			it := &items[i]
			if out[k] != nil {
				r.stats.deliveryFailed.Add(1)
				recvs[i], errs[i] = nil, out[k]
				r.release(it.e, flights[i], nil, out[k])
				continue
			}
			wg.Add(1)
			go func() { // concurrent appends share a group commit
				defer wg.Done()
				recvs[i], errs[i] = r.journalReceived(ctx, it.e, it.body)
				r.release(it.e, flights[i], recvs[i], errs[i])
			}()
		}
		wg.Wait()
	}
	for _, w := range waits {
		recvs[w.i], errs[w.i] = w.f.wait(ctx)
	}
}

// deliverFHIRBatch POSTs items[idx] as one batch Bundle and returns each
// one's outcome.
func (r *Relay) deliverFHIRBatch(ctx context.Context, items []inbound, idx []int, types []string) []error {
	out := make([]error, len(idx))
	fail := func(err error) []error {
		for k := range out {
			out[k] = err
		}
		return out
	}
	n := 64
	for _, i := range idx {
		n += len(items[i].body) + 80
	}
	b := make([]byte, 0, n)
	b = append(b, `{"resourceType":"Bundle","type":"batch","entry":[`...)
	for k, i := range idx {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"resource":`...)
		b = append(b, items[i].body...)
		b = append(b, `,"request":{"method":"POST","url":"`...)
		b = append(b, types[k]...)
		b = append(b, `"}}`...)
	}
	b = append(b, "]}"...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.Deliver.HTTPURL, bytes.NewReader(b))
	if err != nil {
		return fail(fmt.Errorf("%w: deliver.http_url %q: %w", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, err))
	}
	req.Header = http.Header{"Content-Type": {fhirJSON}, "Accept": {fhirJSON}, "Wardgate-Sender": {items[idx[0]].e.Sender}}
	resp, err := r.lanRT.RoundTrip(req)
	if err != nil {
		return fail(fmt.Errorf("%w: POST %s (FHIR batch of %d): %w", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, len(idx), err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBatchResponse))
	if err != nil {
		return fail(fmt.Errorf("%w: POST %s: reading the batch-response: %w", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, err))
	}
	if resp.StatusCode/100 != 2 {
		return fail(fmt.Errorf("%w: POST %s (FHIR batch of %d) answered %s", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, len(idx), resp.Status))
	}
	var br struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response struct {
				Status  string       `json:"status"`
				Outcome *fhirOutcome `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &br); err != nil || br.ResourceType != "Bundle" || br.Type != "batch-response" {
		return fail(fmt.Errorf("%w: POST %s: the answer is not a FHIR batch-response Bundle", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL))
	}
	if len(br.Entry) != len(idx) {
		return fail(fmt.Errorf("%w: POST %s: batch-response has %d entries for %d records", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, len(br.Entry), len(idx)))
	}
	for k, e := range br.Entry {
		if !strings.HasPrefix(strings.TrimSpace(e.Response.Status), "2") {
			out[k] = fmt.Errorf("%w: %s (FHIR batch entry %d) answered %q%s", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, k, e.Response.Status, e.Response.Outcome.text())
		}
	}
	return out
}

// fhirOutcome is the part of an OperationOutcome a refusal quotes.
type fhirOutcome struct {
	Issue []struct {
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

// text is the outcome's first issue for the refusal the sender sees (""
// when none is given), bounded so a chatty server cannot bloat the error.
func (o *fhirOutcome) text() string {
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
