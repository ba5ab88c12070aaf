package records

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// LANHandler serves hospital systems:
//
//	POST /v1/records            To: <peer>, Content-Type: <type>, body = record
//	                            200 + Receipt JSON once the peer countersigned
//	POST /v1/records/bulk       To: <peer>, NDJSON, one FHIR resource a line
//	                            200 + one receipt or refusal a line (bulk.go)
//	GET  /v1/receipts/{digest}  the newest receipt (pending or anchored);
//	                            ?peer=<name> picks one of several sends
//
// Refusals answer JSON {"code","error"}: 400 bad request, 403 not admitted,
// 409 verdict expired, 413 too large, 502 peer unreachable or its LAN
// endpoint down (retry with the same body: idempotent by digest).
func (r *Relay) LANHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/records", r.handleRecord)
	mux.HandleFunc("POST "+bulkPath, r.handleBulk)
	mux.HandleFunc("GET /v1/receipts/{digest}", r.handleReceipt)
	r.consentRoutes(mux)
	return withPurpose(mux)
}

// intake checks a LAN request's To: peer (named, admitted now) before it
// reads the body, then reads the body within max_body. want, if not nil,
// checks the Content-Type first.
func (r *Relay) intake(w http.ResponseWriter, req *http.Request, want func(ct string) error) (peer string, body []byte, ok bool) {
	peer = req.Header.Get("To")
	err := checkName("peer (To:)", peer)
	if peer == "" {
		err = fmt.Errorf("%w: missing To: header naming the receiving peer", ErrBadRequest)
	}
	if err == nil && want != nil {
		err = want(req.Header.Get("Content-Type"))
	}
	if err == nil {
		err = r.clientMayReach(req.TLS, peer)
	}
	if err == nil {
		_, err = r.admitted(peer)
	}
	if err == nil {
		body, err = readBody(w, req, r.cfg.MaxBody)
	}
	if err != nil {
		r.auditRefused(peer, nil, err) // refused before the body was read: no digest
		writeError(w, err)
		return "", nil, false
	}
	return peer, body, true
}

func (r *Relay) handleRecord(w http.ResponseWriter, req *http.Request) {
	peer, body, ok := r.intake(w, req, nil)
	if !ok {
		return
	}
	rc, err := r.Send(req.Context(), peer, req.Header.Get("Content-Type"), body)
	if err != nil {
		r.logRefused(req.Context(), "record not forwarded", err, "to", peer)
		writeError(w, err)
		return
	}
	writeJSON(w, rc)
}

// writeJSON answers v with a Content-Length: a receipt is larger than what
// net/http buffers before it falls back to chunked encoding.
func writeJSON(w http.ResponseWriter, v any) {
	var b []byte
	if a, ok := v.(interface{ AppendJSON([]byte) []byte }); ok {
		b = a.AppendJSON(make([]byte, 0, 4<<10))
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			writeError(w, fmt.Errorf("relay: encoding answer: %w", err))
			return
		}
	}
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.Write(b)
}

// ErrNoReceipt is returned for a digest this box has no entry for.
var ErrNoReceipt = errors.New("relay: no receipt for this digest")

func (r *Relay) handleReceipt(w http.ResponseWriter, req *http.Request) {
	if !r.lookups.Allow() {
		w.Header().Set("Retry-After", "1")
		writeRefusal(w, http.StatusTooManyRequests, codeRateLimited, errors.New("relay: too many receipt lookups; retry in a second"))
		return
	}
	s := req.PathValue("digest")
	d, err := hex.DecodeString(s)
	if err != nil || len(d) != 32 {
		writeError(w, fmt.Errorf("%w: digest %q must be 64 hex characters (SHA-256 of the record)", ErrBadRequest, s))
		return
	}
	rc, err := r.ReceiptFor(req.Context(), [32]byte(d), req.URL.Query().Get("peer"))
	if errors.Is(err, ErrNoReceipt) {
		writeRefusal(w, http.StatusNotFound, "not_found", err)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, rc)
}

// ReceiptFor returns the newest receipt (anchored once the ledger anchored
// its checkpoint) for a record digest: this box's sent entry (to peer, if
// given), else its received entry.
func (r *Relay) ReceiptFor(ctx context.Context, digest [32]byte, peer string) (*receipt.Receipt, error) {
	var sent, recv *proof.Entry
	for _, seq := range r.cfg.Ledger.Lookup(digest) {
		e, err := r.cfg.Ledger.Entry(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("relay: reading journal entry %d: %w", seq, err)
		}
		switch {
		case e.Kind == proof.KindSent && sent == nil && (peer == "" || e.Receiver == peer):
			sent = e
		case e.Kind == proof.KindReceived && recv == nil && (peer == "" || e.Sender == peer):
			recv = e
		}
	}
	switch {
	case sent != nil:
		cs := r.cs.get(digest, sent.Receiver)
		var csErr error
		if cs == nil {
			// Countersignatures live in memory; after a restart (or a failed
			// send) ask the receiver, without resending the body.
			cs, csErr = r.refetch(ctx, sent)
		}
		rc, err := r.receipt(ctx, sent.Seq, cs)
		if err != nil {
			return nil, err
		}
		switch {
		case cs != nil:
		case errors.Is(csErr, ErrNotReceived):
			rc.Delivery, rc.DeliveryError = receipt.DeliveryNotReceived, csErr.Error()
		default:
			rc.Delivery, rc.DeliveryError = receipt.DeliveryUnknown, csErr.Error()
		}
		return rc, nil
	case recv != nil:
		return r.receipt(ctx, recv.Seq, nil)
	}
	return nil, fmt.Errorf("%w: %x", ErrNoReceipt, digest)
}

// refetch asks the receiver of a sent entry for its countersignature again.
func (r *Relay) refetch(ctx context.Context, sent *proof.Entry) (*receipt.Countersign, error) {
	v, err := r.admitted(sent.Receiver)
	if err != nil {
		return nil, err
	}
	raw, err := sent.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cs, err := r.fetchCountersign(ctx, sent.Receiver, raw)
	if err != nil {
		return nil, err
	}
	if err := cs.Verify(v.RecordKey(), raw); err != nil {
		return nil, fmt.Errorf("relay: peer %q: %w", sent.Receiver, err)
	}
	r.cs.put(sent.Digest, sent.Receiver, cs)
	return cs, nil
}
