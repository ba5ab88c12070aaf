package records

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/fhir"
	"github.com/wardgate/wardgate/records/receipt"
)

// Bulk intake, for hospital systems that hand over many FHIR resources at
// once (a FHIR Bulk Data export, a referral package):
//
//	POST /v1/records/bulk
//	To: <peer>
//	Content-Type: application/fhir+ndjson
//	<one FHIR resource (JSON) per line>
//
// Each line is its own record (content type application/fhir+json), with
// its own digest, journal entry, countersignature and receipt; the lines of
// one request travel to the peer together, so a bulk request costs one LAN
// round trip instead of one per record. The answer (200,
// application/x-ndjson) has one line per record, in order:
//
//	{"line":N,"receipt":{...}}               forwarded, delivered, countersigned
//	{"line":N,"code":"...","error":"..."}    refused; nothing else is affected
//
// A refused line can be sent again (alone or in bulk): records are
// idempotent by digest. The request as a whole is refused (4xx, nothing
// sent) when the peer is not admitted, the content type is not NDJSON, the
// body is over max_body, or it holds more than MaxBulkRecords lines.
const (
	bulkPath        = "/v1/records/bulk"
	BulkContentType = fhir.NDJSONContentType
	// MaxBulkRecords bounds the records of one bulk request.
	MaxBulkRecords = 10000
	bulkParallel   = 1024 // records of one bulk request in flight at once
)

// bulkLine is one line of a bulk answer.
type bulkLine struct {
	Line    int              `json:"line"`
	Receipt *receipt.Receipt `json:"receipt,omitempty"`
	Code    string           `json:"code,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// splitBulk splits a bulk body into its records and line numbers, as the
// relay's refusals: too many is ErrTooLarge, none is ErrBadRequest.
func splitBulk(body []byte) ([][]byte, []int, error) {
	recs, nums, err := fhir.SplitNDJSON(body, MaxBulkRecords)
	switch {
	case errors.Is(err, fhir.ErrTooMany):
		return nil, nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return recs, nums, nil
}

func (r *Relay) handleBulk(w http.ResponseWriter, req *http.Request) {
	peer, body, ok := r.intake(w, req, func(ct string) error {
		if ct != BulkContentType && ct != "application/x-ndjson" {
			return fmt.Errorf("%w: Content-Type %q; a bulk request is %s, one FHIR resource per line (POST single records to /v1/records)", ErrBadRequest, ct, BulkContentType)
		}
		return nil
	})
	if !ok {
		return
	}
	recs, nums, err := splitBulk(body)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]bulkLine, len(recs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, bulkParallel)
	for i, rec := range recs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].Line = nums[i]
			rc, err := r.Send(req.Context(), peer, fhir.ContentType, rec)
			if err != nil {
				out[i].Code, _ = classify(err)
				out[i].Error = err.Error()
				return
			}
			out[i].Receipt = rc
		}()
	}
	wg.Wait()
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 64<<10)
	line := make([]byte, 0, 4<<10)
	for i := range out {
		line = append(out[i].appendJSON(line[:0]), '\n')
		bw.Write(line)
	}
	bw.Flush()
}

// appendJSON appends the answer line as json.Marshal writes it.
func (l *bulkLine) appendJSON(b []byte) []byte {
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(l.Line), 10)
	if l.Receipt != nil {
		b = append(b, `,"receipt":`...)
		b = l.Receipt.AppendJSON(b)
	}
	if l.Code != "" {
		b = append(b, `,"code":`...)
		b = proof.AppendJSONString(b, l.Code)
	}
	if l.Error != "" {
		b = append(b, `,"error":`...)
		b = proof.AppendJSONString(b, l.Error)
	}
	return append(b, '}')
}
