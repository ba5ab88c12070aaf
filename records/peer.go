package records

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// The peer protocol is HTTP/1.1 over the tunnel: records travel in batches
// (batch.go); a sender that lost a countersignature asks for it again with
//
//	POST /v1/peer/countersign
//	Wardgate-Entry: <base64 of the sender's signed KindSent entry>
//
// which answers a Countersign (JSON) or a peerError.
const (
	countersignPath = "/v1/peer/countersign"
	entryHeader     = "Wardgate-Entry"
	maxEntryB64     = 4 * receipt.MaxEntryRaw / 3
	maxErrorReply   = 4 << 10
)

// peerError is the JSON body of a refused peer request.
type peerError struct {
	Code  string `json:"code"`
	Error string `json:"error"`
	// Box is the box that refused (a receiving peer, or this box).
	Box string `json:"box,omitempty"`
	// Retryable says whether resending the same record may help.
	Retryable *bool `json:"retryable,omitempty"`
}

// Codes on the peer protocol and on the LAN API.
const (
	codeNotAdmitted    = "not_admitted"
	codeExpired        = "verdict_expired"
	codeBadSignature   = "bad_signature"
	codeTooLarge       = "too_large"
	codeBadRequest     = "bad_request"
	codeUnreachable    = "peer_unreachable"
	codePeerRefused    = "peer_refused"
	codeBadCountersign = "bad_countersign"
	codeInternal       = "internal"
	codeNotReceived    = "not_received"
	codeNotMLLP        = "not_mllp_deliverable"
)

// classify maps an error to its code and HTTP status.
func classify(err error) (string, int) {
	var rf *Refusal
	if errors.As(err, &rf) {
		code, status := classify(rf.kind)
		if !errors.Is(rf.kind, ErrPeerRefused) {
			code = rf.Code // the peer's delivery code, or its kind's own
		}
		return code, status
	}
	var de *deliveryError
	if errors.As(err, &de) {
		return de.code, http.StatusBadGateway
	}
	if code, ok := refusalCode(err); ok {
		return code, http.StatusForbidden
	}
	switch {
	case errors.Is(err, ErrNotAdmitted):
		return codeNotAdmitted, http.StatusForbidden
	case errors.Is(err, ErrVerdictExpired):
		return codeExpired, http.StatusConflict
	case errors.Is(err, ErrBadSignature):
		return codeBadSignature, http.StatusForbidden
	case errors.Is(err, ErrTooLarge):
		return codeTooLarge, http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrNoRoute):
		return codeBadRequest, http.StatusBadRequest
	case errors.Is(err, ErrNotReceived):
		return codeNotReceived, http.StatusNotFound
	case errors.Is(err, ErrClientNotAllowed):
		return codeClientNotAllowed, http.StatusForbidden
	case errors.Is(err, ErrNotMLLP):
		return codeNotMLLP, http.StatusUnprocessableEntity
	case errors.Is(err, ErrDeliveryFailed):
		return codeDelivery, http.StatusBadGateway
	case errors.Is(err, ErrPeerUnreachable):
		return codeUnreachable, http.StatusBadGateway
	case errors.Is(err, ErrPeerRefused):
		return codePeerRefused, http.StatusBadGateway
	case errors.Is(err, receipt.ErrBadCountersign):
		return codeBadCountersign, http.StatusBadGateway
	case errors.Is(err, context.DeadlineExceeded):
		return codeUnreachable, http.StatusGatewayTimeout
	}
	return codeInternal, http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	code, status := classify(err)
	writeRefusal(w, status, code, err)
}

// writeRefusal answers a refusal as {"code":..., "error":...}.
func writeRefusal(w http.ResponseWriter, status int, code string, err error) {
	pe := peerError{Code: code, Error: err.Error(), Retryable: ptr(retryable(code))}
	var rf *Refusal
	if errors.As(err, &rf) {
		pe.Box, pe.Retryable = rf.Box, ptr(rf.Retryable)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(pe)
}

func ptr[T any](v T) *T { return &v }

// peerAnswer is the refusal a peer learns: the code, this box, whether a
// retry may help and the public text (refusal.go), never an endpoint's
// address or a hospital system's own words.
func (r *Relay) peerAnswer(err error) peerError {
	code, _ := classify(err)
	return peerError{Code: code, Error: publicText(code, err), Box: r.cfg.Box, Retryable: ptr(retryable(code))}
}

// writePeerError answers a peer's request with a refusal.
func (r *Relay) writePeerError(w http.ResponseWriter, err error) {
	_, status := classify(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(r.peerAnswer(err))
}

// initialBodyBuf is the most readBody allocates before the body arrives.
const initialBodyBuf = 16 << 10

// readBody reads at most max bytes of the request body into memory.
func readBody(w http.ResponseWriter, req *http.Request, max int64) ([]byte, error) {
	if req.ContentLength > max {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds the limit of %d bytes (max_body)", ErrTooLarge, req.ContentLength, max)
	}
	// The buffer grows with the bytes that arrive, never on the word of
	// Content-Length alone: a header costs a sender nothing, and thousands
	// of half-open uploads each claiming max_body would otherwise pin
	// that much memory before sending a byte.
	n := min(req.ContentLength, initialBodyBuf)
	if n < 0 {
		n = initialBodyBuf
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, req.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: body exceeds the limit of %d bytes (max_body)", ErrTooLarge, max)
		}
		return nil, fmt.Errorf("%w: reading body: %w", ErrBadRequest, err)
	}
	return buf.Bytes(), nil
}

// parseEntryHeader decodes and shape-checks the sender's signed entry.
func parseEntryHeader(box, entryB64 string) (*proof.Entry, []byte, error) {
	if entryB64 == "" {
		return nil, nil, fmt.Errorf("%w: missing %s header", ErrBadRequest, entryHeader)
	}
	if len(entryB64) > maxEntryB64 {
		return nil, nil, fmt.Errorf("%w: %s header is %d bytes, limit %d", ErrBadRequest, entryHeader, len(entryB64), maxEntryB64)
	}
	raw, err := base64.StdEncoding.DecodeString(entryB64)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s header is not base64: %w", ErrBadRequest, entryHeader, err)
	}
	e, err := parseEntry(box, raw)
	if err != nil {
		return nil, nil, err
	}
	return e, raw, nil
}

// parseEntry decodes a sender's signed KindSent entry and checks that it
// is addressed to box. It checks shape, not trust.
func parseEntry(box string, raw []byte) (*proof.Entry, error) {
	var e proof.Entry
	if err := e.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("%w: sent entry: %w", ErrBadRequest, err)
	}
	switch {
	case e.Kind != proof.KindSent:
		return nil, fmt.Errorf("%w: entry kind is %s, want sent", ErrBadRequest, e.Kind)
	case e.Receiver != box:
		return nil, fmt.Errorf("%w: entry is addressed to %q, this box is %q", ErrBadRequest, e.Receiver, box)
	case e.Log != e.Sender:
		return nil, fmt.Errorf("%w: entry of sender %q comes from log %q", ErrBadRequest, e.Sender, e.Log)
	}
	if err := checkName("sender", e.Sender); err != nil {
		return nil, err
	}
	return &e, nil
}

// PeerHandler serves the peer protocol; mount it on the tunnel listener only.
func (r *Relay) PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+batchPath, r.handleBatch)
	mux.HandleFunc("POST "+countersignPath, r.handleCountersign)
	return mux
}

// handleCountersign answers a sender that lost a countersignature (it keeps
// them in memory only): given its signed entry, and no body, the receiver
// countersigns again if it journaled the record, or answers 404.
func (r *Relay) handleCountersign(w http.ResponseWriter, req *http.Request) {
	cs, err := r.recountersign(req.Context(), req.Header.Get(entryHeader))
	if err != nil {
		r.writePeerError(w, err)
		return
	}
	writeJSON(w, cs)
}

func (r *Relay) recountersign(ctx context.Context, entryB64 string) (*receipt.Countersign, error) {
	e, raw, err := parseEntryHeader(r.cfg.Box, entryB64)
	if err != nil {
		return nil, err
	}
	v, err := r.admitted(e.Sender)
	if err != nil {
		return nil, err
	}
	if err := e.VerifySignatureCached(v.RecordKey(), r.sigs); err != nil {
		return nil, fmt.Errorf("%w: sender %q: %w", ErrBadSignature, e.Sender, err)
	}
	prev, err := r.receivedEntry(ctx, e)
	if err != nil {
		return nil, err
	}
	if prev == nil {
		return nil, fmt.Errorf("%w: %x from %q", ErrNotReceived, e.Digest, e.Sender)
	}
	return receipt.Sign(r.cfg.RecordKey, raw, prev)
}

// receivedEntry is this box's journaled KindReceived entry for (sender, digest), or nil.
func (r *Relay) receivedEntry(ctx context.Context, e *proof.Entry) (*proof.Entry, error) {
	for _, seq := range r.cfg.Ledger.Lookup(e.Digest) {
		prev, err := r.cfg.Ledger.Entry(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("relay: reading journal entry %d: %w", seq, err)
		}
		if prev.Kind == proof.KindReceived && prev.Sender == e.Sender && prev.Receiver == r.cfg.Box {
			return prev, nil
		}
	}
	return nil, nil
}

// fetchCountersign asks peer to countersign this box's sent entry again.
func (r *Relay) fetchCountersign(ctx context.Context, peer string, raw []byte) (*receipt.Countersign, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+peer+countersignPath, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	req.Header.Set(entryHeader, base64.StdEncoding.EncodeToString(raw))
	b, err := r.peerDo(req, peer, receipt.MaxCountersign)
	if err != nil {
		return nil, err
	}
	return receipt.ParseCountersign(b)
}

// receive delivers and journals one checked record from a peer, once: a
// concurrent or later copy of the same (sender, digest) gets the journaled
// entry without a second delivery. It returns this box's KindReceived entry.
func (r *Relay) receive(ctx context.Context, e *proof.Entry, body []byte) (*proof.Entry, error) {
	f, mine := r.claim(e)
	if !mine {
		return f.wait(ctx)
	}
	recv, err := r.receiveOnce(ctx, e, body)
	r.release(e, f, recv, err)
	return recv, err
}

// claim takes the delivery of (sender, digest) for this caller (mine), or
// returns the flight of the caller that already has it.
func (r *Relay) claim(e *proof.Entry) (f *flight, mine bool) {
	key := flightKey{peer: e.Sender, digest: e.Digest, recv: true}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.inflight[key]; ok {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	r.inflight[key] = f
	return f, true
}

// release ends a claimed flight with its outcome.
func (r *Relay) release(e *proof.Entry, f *flight, recv *proof.Entry, err error) {
	f.recv, f.err = recv, err
	r.mu.Lock()
	delete(r.inflight, flightKey{peer: e.Sender, digest: e.Digest, recv: true})
	r.mu.Unlock()
	close(f.done)
}

// wait returns a receive flight's outcome.
func (f *flight) wait(ctx context.Context) (*proof.Entry, error) {
	select {
	case <-f.done:
		return f.recv, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *Relay) receiveOnce(ctx context.Context, e *proof.Entry, body []byte) (*proof.Entry, error) {
	// Dedup by (sender, digest): a resend after a lost reply is acknowledged
	// from the journal, without a second delivery.
	prev, err := r.receivedEntry(ctx, e)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		return prev, nil
	}
	if err := r.deliver(ctx, e, body); err != nil {
		r.stats.deliveryFailed.Add(1)
		return nil, err
	}
	return r.journalReceived(ctx, e, body)
}

// journalReceived journals the KindReceived entry of a delivered record.
func (r *Relay) journalReceived(ctx context.Context, e *proof.Entry, body []byte) (*proof.Entry, error) {
	a, err := r.cfg.Ledger.Append(ctx, proof.Entry{Kind: proof.KindReceived, Digest: e.Digest, Sender: e.Sender, Receiver: r.cfg.Box, ContentType: e.ContentType})
	if err != nil {
		return nil, fmt.Errorf("relay: journaling received entry: %w", err)
	}
	r.stats.received.Add(1)
	r.stats.bytesReceived.Add(uint64(len(body)))
	r.audit(RecordReceived, e.Sender, e.Digest, nil)
	return &a.Entry, nil
}

// peerDo makes one request of the peer protocol and returns the body of a
// 200 reply (at most limit bytes), or the peer's refusal as an error.
func (r *Relay) peerDo(req *http.Request, peer string, limit int64) ([]byte, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w; retry later with the same record", ErrPeerUnreachable, peer, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: reading reply: %w; retry with the same record", ErrPeerUnreachable, peer, err)
	}
	if resp.StatusCode != http.StatusOK {
		var pe peerError
		if json.Unmarshal(b[:min(len(b), maxErrorReply)], &pe) != nil || pe.Error == "" {
			pe.Error = fmt.Sprintf("HTTP %s", resp.Status)
		}
		return nil, peerRefusal(pe, peer)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: peer %q: reply over %d bytes", ErrPeerRefused, peer, limit)
	}
	return b, nil
}

// peerRefusal turns a peer's refusal into the error the sender reports.
func peerRefusal(pe peerError, peer string) error {
	rf := &Refusal{Code: pe.Code, Box: pe.Box, Text: pe.Error, kind: ErrPeerRefused}
	if rf.Box == "" {
		rf.Box = peer
	}
	if pe.Retryable != nil {
		rf.Retryable = *pe.Retryable
	} else {
		rf.Retryable = retryable(pe.Code)
	}
	switch _, delivery := deliveryCodes[pe.Code]; {
	case delivery:
		rf.kind = ErrDeliveryFailed
	case pe.Code == codeNotReceived:
		rf.kind = ErrNotReceived
	case pe.Code == codeTooLarge:
		rf.kind = ErrTooLarge
	case pe.Code == codeNotMLLP:
		rf.kind = ErrNotMLLP
	}
	return rf
}
