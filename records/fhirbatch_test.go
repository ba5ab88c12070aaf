package records

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/hl7"
	"github.com/wardgate/wardgate/records/receipt"
)

// fhirServer is a FHIR server's base URL: it takes batch Bundles (answering
// a batch-response, refusing resources that say REJECT) and single records.
type fhirServer struct {
	mu      sync.Mutex
	got     map[string]int // resource -> times stored
	batches atomic.Int64   // batch Bundles taken
	largest atomic.Int64   // most entries in one Bundle
	singles atomic.Int64   // records POSTed alone
	reject  atomic.Bool
}

func (s *fhirServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
			Request  struct{ Method, URL string }
		} `json:"entry"`
	}
	if json.Unmarshal(b, &bundle) != nil || bundle.Type != "batch" {
		s.singles.Add(1)
		s.store(b)
		w.WriteHeader(http.StatusCreated)
		return
	}
	s.batches.Add(1)
	for n := int64(len(bundle.Entry)); ; {
		if m := s.largest.Load(); n <= m || s.largest.CompareAndSwap(m, n) {
			break
		}
	}
	var out bytes.Buffer
	out.WriteString(`{"resourceType":"Bundle","type":"batch-response","entry":[`)
	for i, e := range bundle.Entry {
		if i > 0 {
			out.WriteByte(',')
		}
		var rt struct{ ResourceType string }
		json.Unmarshal(e.Resource, &rt)
		status, outcome := "201 Created", ""
		if s.reject.Load() && bytes.Contains(e.Resource, []byte("REJECT")) {
			status = "400 Bad Request"
			outcome = `,"outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"business-rule","diagnostics":"note says REJECT"}]}`
		} else if e.Request.Method != "POST" || e.Request.URL != rt.ResourceType {
			status = "400 Bad Request"
		} else {
			s.store(e.Resource)
		}
		fmt.Fprintf(&out, `{"response":{"status":%q%s}}`, status, outcome)
	}
	out.WriteString("]}")
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write(out.Bytes())
}

func (s *fhirServer) store(b []byte) {
	s.mu.Lock()
	s.got[string(b)]++
	s.mu.Unlock()
}

func (s *fhirServer) times(b []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[string(b)]
}

// With deliver_fhir_batch, FHIR records sent together reach the FHIR server
// in batch Bundles; each keeps its own outcome (a resource the server
// refuses is a failed delivery of that record alone, and its resend is
// delivered once); records that are not FHIR resources go one by one.
func TestFHIRBatchDelivery(t *testing.T) {
	f := fixture(t)
	n := &recNet{addrs: map[string]string{}}
	srv := &fhirServer{got: map[string]int{}}
	srv.reject.Store(true)
	base := "http://" + serveHTTP(t, srv) + "/fhir"
	a := newRecBox(t, n, "st-mary", Delivery{}, nil)
	b := newRecBox(t, n, "city-general", Delivery{HTTPURL: base, FHIRBatch: true}, nil)
	admit(t, f, a, b)

	m := randMarker(t)
	var recs [][]byte
	for i := 0; i < 40; i++ {
		recs = append(recs, fmt.Appendf(nil, `{"resourceType":"Observation","id":"%s-%d","status":"final"}`, m, i))
	}
	reject := []byte(`{"resourceType":"Observation","id":"` + m + `-x","note":"REJECT"}`)
	recs = append(recs, reject)
	notResource := []byte(`{"just":"json","m":"` + m + `"}`)
	msg := []byte("MSH|^~\\&|A|B|C|D|20260101||ADT^A01|" + m + "|P|2.5\r")
	type res struct {
		st  int
		out []byte
	}
	results := make([]res, len(recs)+2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct := notResource, "application/fhir+json"
			switch {
			case i < len(recs):
				body = recs[i]
			case i == len(recs)+1:
				body, ct = msg, hl7.HL7ContentType
			}
			st, out := post(t, a, "city-general", ct, body)
			results[i] = res{st, out}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if i == len(recs)-1 { // the refused one
			// The FHIR server's OperationOutcome stays on the receiving box.
			wantRefusal(t, r.st, r.out, http.StatusBadGateway, codeRejected, "refused the record (HTTP 400)")
			if strings.Contains(string(r.out), "REJECT") {
				t.Fatalf("the FHIR server's diagnostics crossed to the sender: %s", r.out)
			}
			continue
		}
		if r.st != http.StatusOK {
			t.Fatalf("record %d: %d %s", i, r.st, r.out)
		}
		body := notResource
		if i < len(recs) {
			body = recs[i]
		} else if i == len(recs)+1 {
			body = msg
		}
		if _, err := receipt.VerifyReceipt(context.Background(), parseReceipt(t, r.out), a.signer.Public(), b.signer.Public(),
			proof.VerifyOptions{Record: body}); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		if srv.times(body) != 1 {
			t.Fatalf("record %d stored %d times", i, srv.times(body))
		}
	}
	if srv.batches.Load() == 0 || srv.batches.Load() >= int64(len(recs)) {
		t.Fatalf("%d batch Bundles for %d FHIR records", srv.batches.Load(), len(recs))
	}
	if srv.singles.Load() != 2 {
		t.Fatalf("%d records POSTed alone, want 2 (not a FHIR resource, HL7)", srv.singles.Load())
	}
	if len(b.l.Lookup(sha256.Sum256(reject))) != 0 {
		t.Fatal("the refused record was journaled as received")
	}
	// The server takes it now: the resend is delivered, once.
	srv.reject.Store(false)
	if st, out := post(t, a, "city-general", "application/fhir+json", reject); st != http.StatusOK {
		t.Fatalf("resend: %d %s", st, out)
	}
	if srv.times(reject) != 1 || !strings.Contains(string(reject), "REJECT") {
		t.Fatalf("resent record stored %d times", srv.times(reject))
	}
	t.Logf("%d FHIR records in %d batch Bundles", len(recs), srv.batches.Load())
}

// A peer batch larger than maxBundleEntries reaches the FHIR server as
// several Bundles of at most that many entries, and every record is stored
// once with a receipt.
func TestFHIRBatchBundleBound(t *testing.T) {
	f := fixture(t)
	n := &recNet{addrs: map[string]string{}}
	srv := &fhirServer{got: map[string]int{}}
	base := "http://" + serveHTTP(t, srv) + "/fhir"
	a := newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) { c.MaxBody = 1 << 20 }) // the bulk body
	b := newRecBox(t, n, "city-general", Delivery{HTTPURL: base, FHIRBatch: true}, nil)
	admit(t, f, a, b)

	m := randMarker(t)
	const total = 6000
	var recs [][]byte
	var body bytes.Buffer
	for i := 0; i < total; i++ {
		recs = append(recs, fmt.Appendf(nil, `{"resourceType":"Basic","id":"%s-%d"}`, m, i))
		body.Write(recs[i])
		body.WriteByte('\n')
	}
	st, out := postTo(t, a, bulkPath, "city-general", BulkContentType, body.Bytes())
	if st != http.StatusOK || bytes.Count(out, []byte(`"receipt"`)) != total {
		t.Fatalf("bulk: %d, %d receipts", st, bytes.Count(out, []byte(`"receipt"`)))
	}
	for i, r := range recs {
		if srv.times(r) != 1 {
			t.Fatalf("record %d stored %d times", i, srv.times(r))
		}
	}
	stats := a.r.Stats()
	// Each peer batch is ceil(n/maxBundleEntries) Bundles: more Bundles than
	// peer batches means one was split.
	if srv.batches.Load() <= int64(stats.Batches) {
		t.Fatalf("%d records: %d peer batches, %d Bundles: none was over %d, so the bound was not exercised", stats.BatchRecords, stats.Batches, srv.batches.Load(), maxBundleEntries)
	}
	if got := srv.largest.Load(); got > maxBundleEntries {
		t.Fatalf("a Bundle held %d entries, over the bound of %d", got, maxBundleEntries)
	}
	t.Logf("%d records: %d peer batches, %d Bundles, largest %d", total, stats.Batches, srv.batches.Load(), srv.largest.Load())
}
