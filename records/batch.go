package records

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// The peer batch protocol carries records between boxes through the tunnel,
// many per HTTP request:
//
//	POST /v1/peer/batch
//	Content-Type: application/vnd.wardgate.batch
//	"WGB1" u32 count, then count times:
//	    u16 len, sender's signed KindSent entry (ledger.Entry.MarshalBinary)
//	    u32 len, record body
//
// 200 answers "WGR1" u32 count, then, in order, one result per record:
//
//	0x00 countersignature (Countersign.appendBinary)
//	0x01 u16 len, peerError JSON
//
// A batch is what queued for a peer while the previous batches were in
// flight: one record when the box is idle (no added wait), up to
// maxBatchRecords under load. Batching is what lets the box forward tens of
// thousands of records a second: one request, one signature check and one
// countersignature per batch, not per record. Each record still succeeds or
// fails on its own.
const (
	batchPath   = "/v1/peer/batch"
	batchType   = "application/vnd.wardgate.batch"
	batchMagic  = "WGB1"
	resultMagic = "WGR1"

	maxBatchRecords    = 1024
	maxBatchBytes      = 1 << 20 // bodies per batch; a larger record goes alone
	maxInflightBatches = 2       // per peer: more made batches smaller and dearer per record (bench-records)
	deliverParallel    = 64      // LAN deliveries at once, per batch
	resultOK           = 0x00
	resultErr          = 0x01
	outQueue           = 8192 // records waiting for a peer batch
)

// ErrBadBatch is returned for a peer batch that does not parse.
var ErrBadBatch = fmt.Errorf("%w: malformed peer batch", ErrBadRequest)

// outbound is one record waiting to be forwarded.
type outbound struct {
	raw  []byte // signed sent entry
	body []byte
	done chan outResult
}

type outResult struct {
	cs  *receipt.Countersign
	err error
}

// peerOut is the queue and sender of one peer's batches.
type peerOut struct {
	peer string
	q    chan *outbound
}

// forward queues the record for peer's next batch and waits for its
// countersignature (parsed, not yet verified).
func (r *Relay) forward(ctx context.Context, peer string, raw, body []byte) (*receipt.Countersign, error) {
	o := &outbound{raw: raw, body: body, done: make(chan outResult, 1)}
	po, err := r.peerQueue(peer)
	if err != nil {
		return nil, err
	}
	select {
	case po.q <- o:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %q: queue full: %w; retry with the same record", ErrPeerUnreachable, peer, ctx.Err())
	}
	select {
	case res := <-o.done:
		return res.cs, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %q: %w; retry with the same record", ErrPeerUnreachable, peer, ctx.Err())
	}
}

func (r *Relay) peerQueue(peer string) (*peerOut, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, fmt.Errorf("%w: relay is closed", ErrPeerUnreachable)
	}
	po := r.outs[peer]
	if po == nil {
		po = &peerOut{peer: peer, q: make(chan *outbound, outQueue)}
		r.outs[peer] = po
		r.wg.Add(1)
		go r.pump(po)
	}
	return po, nil
}

// pump sends po's queue as batches, at most maxInflightBatches at once.
// It takes a batch only when a slot is free, so records that arrive while
// the peer is busy gather into the next batch.
func (r *Relay) pump(po *peerOut) {
	defer r.wg.Done()
	slots := make(chan struct{}, maxInflightBatches)
	var carry *outbound
	defer func() {
		if carry != nil {
			carry.done <- outResult{err: fmt.Errorf("%w: %q: relay is closing; retry with the same record", ErrPeerUnreachable, po.peer)}
		}
	}()
	for {
		select {
		case slots <- struct{}{}:
		case <-r.stop:
			return
		}
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-po.q:
			case <-r.stop:
				return
			}
		}
		batch := []*outbound{first}
		size := len(first.body)
	fill:
		for len(batch) < maxBatchRecords {
			select {
			case o := <-po.q:
				if size+len(o.body) > maxBatchBytes {
					carry = o
					break fill
				}
				batch = append(batch, o)
				size += len(o.body)
			default:
				break fill
			}
		}
		r.stats.batches.Add(1)
		r.stats.batchRecords.Add(uint64(len(batch)))
		r.wg.Add(1) // Close waits for batches in flight (each bounded by ForwardTimeout)
		go func() {
			defer r.wg.Done()
			defer func() { <-slots }()
			r.sendBatch(po.peer, batch)
		}()
	}
}

// sendBatch makes one batch request and hands each record its result.
func (r *Relay) sendBatch(peer string, batch []*outbound) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ForwardTimeout)
	defer cancel()
	fail := func(err error) {
		for _, o := range batch {
			o.done <- outResult{err: err}
		}
	}
	raws, bodies := make([][]byte, len(batch)), make([][]byte, len(batch))
	for i, o := range batch {
		raws[i], bodies[i] = o.raw, o.body
	}
	body := encodeBatch(raws, bodies)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+peer+batchPath, bytes.NewReader(body))
	if err != nil {
		fail(fmt.Errorf("%w: %w", ErrBadRequest, err))
		return
	}
	req.Header.Set("Content-Type", batchType)
	reply, err := r.peerDo(req, peer, int64(8+len(batch)*(receipt.MaxCountersign+8)))
	if err != nil {
		fail(err)
		return
	}
	results, err := parseResults(reply, len(batch))
	if err != nil {
		fail(fmt.Errorf("%w: peer %q: %w", ErrPeerRefused, peer, err))
		return
	}
	for i, o := range batch {
		o.done <- results[i]
	}
}

// encodeBatch writes a batch request body of signed entries and bodies.
func encodeBatch(raws, bodies [][]byte) []byte {
	n := 8
	for i := range raws {
		n += 6 + len(raws[i]) + len(bodies[i])
	}
	b := make([]byte, 0, n)
	b = append(b, batchMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(raws)))
	for i := range raws {
		b = binary.BigEndian.AppendUint16(b, uint16(len(raws[i])))
		b = append(b, raws[i]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(bodies[i])))
		b = append(b, bodies[i]...)
	}
	return b
}

// parseResults decodes a batch reply of want results.
func parseResults(b []byte, want int) ([]outResult, error) {
	if len(b) < 8 || string(b[:4]) != resultMagic {
		return nil, errors.New("batch reply does not start with " + resultMagic)
	}
	if n := binary.BigEndian.Uint32(b[4:]); int(n) != want {
		return nil, fmt.Errorf("batch reply has %d results for %d records", n, want)
	}
	b = b[8:]
	out := make([]outResult, want)
	for i := range out {
		if len(b) < 1 {
			return nil, fmt.Errorf("batch reply truncated at result %d", i)
		}
		switch b[0] {
		case resultOK:
			cs, rest, err := receipt.ParseCountersignBinary(b[1:])
			if err != nil {
				return nil, fmt.Errorf("result %d: %w", i, err)
			}
			out[i].cs, b = cs, rest
		case resultErr:
			if len(b) < 3 {
				return nil, fmt.Errorf("batch reply truncated at result %d", i)
			}
			n := int(binary.BigEndian.Uint16(b[1:]))
			if len(b) < 3+n {
				return nil, fmt.Errorf("batch reply truncated at result %d", i)
			}
			var pe peerError
			if json.Unmarshal(b[3:3+n], &pe) != nil || pe.Error == "" {
				pe.Error = "unreadable refusal"
			}
			out[i].err = peerRefusal(pe, "")
			b = b[3+n:]
		default:
			return nil, fmt.Errorf("result %d has tag 0x%02x", i, b[0])
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last result", len(b))
	}
	return out, nil
}

// inbound is one record of a batch from a peer.
type inbound struct {
	raw  []byte // sender's signed entry
	e    *proof.Entry
	body []byte
	err  error // refused while parsing (a body over this box's max_body)
}

// parseBatch decodes a peer batch: its shape only (the caller checks
// entries against this box, the body digests and the signatures). Bodies
// alias b.
func parseBatch(b []byte, maxBody int64) ([]inbound, error) {
	if len(b) < 8 || string(b[:4]) != batchMagic {
		return nil, fmt.Errorf("%w: does not start with %q", ErrBadBatch, batchMagic)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if n == 0 || n > maxBatchRecords {
		return nil, fmt.Errorf("%w: %d records, want 1..%d", ErrBadBatch, n, maxBatchRecords)
	}
	b = b[8:]
	out := make([]inbound, n)
	for i := range out {
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: truncated at record %d", ErrBadBatch, i)
		}
		el := int(binary.BigEndian.Uint16(b))
		if el > receipt.MaxEntryRaw || len(b) < 2+el+4 {
			return nil, fmt.Errorf("%w: record %d: entry of %d bytes (limit %d) does not fit", ErrBadBatch, i, el, receipt.MaxEntryRaw)
		}
		out[i].raw = b[2 : 2+el : 2+el]
		b = b[2+el:]
		bl := int64(binary.BigEndian.Uint32(b))
		b = b[4:]
		if int64(len(b)) < bl {
			return nil, fmt.Errorf("%w: record %d: body of %d bytes is truncated", ErrBadBatch, i, bl)
		}
		if bl > maxBody {
			// This box takes smaller records than its peer: refuse this one, not the batch.
			out[i].err = fmt.Errorf("%w: record of %d bytes, this box's limit is %d (max_body)", ErrTooLarge, bl, maxBody)
		} else {
			out[i].body = b[:bl:bl]
		}
		b = b[bl:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last record", ErrBadBatch, len(b))
	}
	return out, nil
}

// maxBatchBody bounds a batch request: the largest record a peer may send
// (its max_body may exceed this box's: such a record is refused alone), a
// full batch of small ones, and framing.
func (r *Relay) maxBatchBody() int64 {
	return max(r.cfg.MaxBody, DefaultMaxBody) + maxBatchBytes + maxBatchRecords*(6+receipt.MaxEntryRaw) + 8
}

func (r *Relay) handleBatch(w http.ResponseWriter, req *http.Request) {
	if ct := req.Header.Get("Content-Type"); ct != batchType {
		r.writePeerError(w, fmt.Errorf("%w: Content-Type %q, want %q", ErrBadBatch, ct, batchType))
		return
	}
	body, err := readBody(w, req, r.maxBatchBody())
	if err != nil {
		r.writePeerError(w, err)
		return
	}
	items, err := parseBatch(body, r.cfg.MaxBody)
	if err != nil {
		r.logRefused(req.Context(), "refused batch from peer", err)
		r.writePeerError(w, err)
		return
	}
	recvs, errs := r.receiveBatch(req.Context(), items)
	// One countersignature per batch of the records that went through.
	var sents [][]byte
	var ok []*proof.Entry
	for i := range items {
		if errs[i] == nil {
			sents, ok = append(sents, items[i].raw), append(ok, recvs[i])
		}
	}
	css, err := receipt.SignAll(r.cfg.RecordKey, sents, ok)
	if err != nil {
		r.writePeerError(w, err)
		return
	}
	out := make([]byte, 0, 8+len(items)*700)
	out = append(out, resultMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(items)))
	k := 0
	for i := range items {
		if errs[i] == nil {
			out = append(out, resultOK)
			out = css[k].AppendBinary(out)
			k++
			continue
		}
		r.logRefused(req.Context(), "refused record from peer", errs[i])
		pe, _ := json.Marshal(r.peerAnswer(errs[i]))
		out = append(out, resultErr)
		out = binary.BigEndian.AppendUint16(out, uint16(len(pe)))
		out = append(out, pe...)
	}
	h := w.Header()
	h["Content-Type"] = []string{batchType}
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.Write(out)
}

// receiveBatch checks, delivers and journals each record of a batch, the
// deliveries deliverParallel at a time; it returns each record's
// journaled KindReceived entry or its refusal.
func (r *Relay) receiveBatch(ctx context.Context, items []inbound) ([]*proof.Entry, []error) {
	recvs := make([]*proof.Entry, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	sem := make(chan struct{}, deliverParallel)
	fhirIdx := map[*endpoint][]int{} // FHIR records, for one batch Bundle per endpoint (Endpoint.FHIRBatch)
	types := map[*endpoint][]string{}
	for i := range items {
		it := &items[i]
		if it.err != nil {
			errs[i] = it.err
			continue
		}
		e, err := r.checkInbound(it)
		if err != nil {
			errs[i] = err
			continue
		}
		it.e = e
		if ep, t := r.fhirBatchRoute(e, it.body); ep != nil {
			fhirIdx[ep], types[ep] = append(fhirIdx[ep], i), append(types[ep], t)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			recvs[i], errs[i] = r.receive(ctx, it.e, it.body)
		}()
	}
	for ep, idx := range fhirIdx {
		r.receiveFHIRBatch(ctx, ep, items, idx, types[ep], recvs, errs)
	}
	wg.Wait()
	return recvs, errs
}

// checkInbound checks one record of a batch: its entry's shape, that it is
// addressed to this box, that the body hashes to the signed digest, that
// the sender is admitted now, and the signature against the record key of
// the sender's current verdict.
func (r *Relay) checkInbound(it *inbound) (*proof.Entry, error) {
	e, err := parseEntry(r.cfg.Box, it.raw)
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(it.body) != e.Digest {
		return nil, fmt.Errorf("%w: body does not hash to the signed digest %x", ErrBadRequest, e.Digest[:8])
	}
	v, err := r.admitted(e.Sender)
	if err != nil {
		return nil, err
	}
	if err := e.VerifySignatureCached(v.RecordKey(), r.sigs); err != nil {
		return nil, fmt.Errorf("%w: sender %q: %w", ErrBadSignature, e.Sender, err)
	}
	return e, nil
}
