package records

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/fhir"
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

// maxBatchResponse bounds the FHIR server's answer.
const maxBatchResponse = 64 << 20

// maxBundleEntries bounds one batch Bundle: a peer batch of up to
// maxBatchRecords is split into Bundles of this many, delivered
// concurrently.
const maxBundleEntries = fhir.MaxBundleEntries

// receiveFHIRBatch delivers items[idx] (checked FHIR records, types
// given) in one Bundle and journals each one delivered; outcomes go to
// recvs and errs. Records already journaled, or in flight elsewhere, are
// not delivered again.
func (r *Relay) receiveFHIRBatch(ctx context.Context, ep *endpoint, items []inbound, idx []int, types []string, recvs []*proof.Entry, errs []error) {
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
				copy(out[lo:hi], ep.deliverFHIRBatch(ctx, items, todo[lo:hi], todoTypes[lo:hi]))
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

// fhirBatchRoute is the endpoint that takes e in a FHIR batch Bundle, and
// its resource type; nil if e goes on its own.
func (r *Relay) fhirBatchRoute(e *proof.Entry, body []byte) (*endpoint, string) {
	if !r.batchFHIR || e.ContentType != fhir.ContentType {
		return nil, ""
	}
	ep, rec, err := r.pick(e.ContentType, body)
	if err != nil || !ep.cfg.FHIRBatch {
		return nil, ""
	}
	t := rec.ResourceType
	if t == "" {
		t = fhir.ResourceType(body)
	}
	if t == "" {
		return nil, ""
	}
	return ep, t
}

// deliverFHIRBatch POSTs items[idx] as one batch Bundle and returns each
// one's outcome.
func (ep *endpoint) deliverFHIRBatch(ctx context.Context, items []inbound, idx []int, types []string) []error {
	out := make([]error, len(idx))
	resources := make([][]byte, len(idx))
	for k, i := range idx {
		resources[k] = items[i].body
	}
	ep.health.inflight.Add(int64(len(idx)))
	t0 := time.Now()
	defer func() {
		ep.health.inflight.Add(-int64(len(idx)))
		d := time.Since(t0)
		for _, err := range out {
			ep.observe(d, err)
		}
	}()
	resps, err := ep.postFHIRBatch(ctx, items[idx[0]].e.Sender, fhir.BatchBundle(resources, types), len(idx))
	if err != nil {
		for k := range out {
			out[k] = err
		}
		return out
	}
	for k, e := range resps {
		if !e.OK() {
			status, _ := strconv.Atoi(strings.Fields(e.Status + " 0")[0])
			out[k] = httpRefusal(ep.name, status, fmt.Errorf("%s (FHIR batch entry %d) answered %q%s", ep.url, k, e.Status, e.Outcome.Text()))
		}
	}
	return out
}

// postFHIRBatch POSTs a batch Bundle of len(types) entries to the FHIR
// server and returns its batch-response entries; an error fails them all.
func (ep *endpoint) postFHIRBatch(ctx context.Context, sender string, bundle []byte, n int) ([]fhir.Response, error) {
	url := ep.url
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bundle))
	if err != nil {
		return nil, newDeliveryError(codeDelivery, ep.name, fmt.Errorf("%s: %w", url, err))
	}
	req.Header = http.Header{"Content-Type": {fhir.ContentType}, "Accept": {fhir.ContentType}, "Wardgate-Sender": {sender}}
	resp, err := ep.rt.RoundTrip(req)
	if err != nil {
		return nil, newDeliveryError(codeDelivery, ep.name, fmt.Errorf("POST %s (FHIR batch of %d): %w", url, n, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBatchResponse))
	if err != nil {
		return nil, newDeliveryError(codeDelivery, ep.name, fmt.Errorf("POST %s: reading the batch-response: %w", url, err))
	}
	if resp.StatusCode/100 != 2 {
		return nil, httpRefusal(ep.name, resp.StatusCode, fmt.Errorf("POST %s (FHIR batch of %d) answered %s", url, n, resp.Status))
	}
	resps, err := fhir.ParseBatchResponse(raw, n)
	if err != nil {
		return nil, newDeliveryError(codeDelivery, ep.name, fmt.Errorf("POST %s: %w", url, err))
	}
	return resps, nil
}
