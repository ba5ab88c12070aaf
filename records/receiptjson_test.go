package records

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/wardgate/wardgate/records/receipt"
)

func wantSameJSON(t *testing.T, what string, v interface{ AppendJSON([]byte) []byte }) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("%s: AppendJSON differs from json.Marshal\n got %s\nwant %s", what, got, want)
	}
}

type lineJSON struct{ *bulkLine }

func (l lineJSON) AppendJSON(b []byte) []byte   { return l.appendJSON(b) }
func (l lineJSON) MarshalJSON() ([]byte, error) { return json.Marshal(l.bulkLine) }

// The receipts a box answers are exactly what encoding/json writes for
// them, countersigned or not, and so are bulk answer lines.
func TestReceiptJSONMatches(t *testing.T) {
	p := newRecPair(t)
	body := fhirBundle(randMarker(t))
	rc, err := p.a.r.Send(context.Background(), "city-general", "application/fhir+json", body)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Countersign == nil || rc.Ledger == nil {
		t.Fatalf("receipt without countersign or ledger part: %+v", rc)
	}
	wantSameJSON(t, "countersigned receipt", rc)
	wantSameJSON(t, "bulk line", lineJSON{&bulkLine{Line: 3, Receipt: rc}})
	wantSameJSON(t, "bulk refusal", lineJSON{&bulkLine{Line: 4, Code: codeDelivery, Error: `POST "http://ehr/<fhir>" & co: 503`}})

	// What the box answers over HTTP round-trips to the same bytes.
	st, out := post(t, p.a, "city-general", "application/fhir+json", body)
	if st != http.StatusOK {
		t.Fatalf("%d %s", st, out)
	}
	again, _ := json.Marshal(parseReceipt(t, out))
	if !bytes.Equal(append(again, '\n'), out) {
		t.Fatalf("answer does not round-trip:\n got %s\nwant %s", out, again)
	}

	odd := *rc
	odd.Countersign, odd.Ledger = nil, nil
	odd.ContentType = "text/x-\"odd\"; charset=<é>"
	odd.Delivery, odd.DeliveryError = receipt.DeliveryUnknown, "peer \"city-general\": dial: i/o timeout\n"
	wantSameJSON(t, "receipt without parts, odd strings", &odd)
}

// BenchmarkReceiptJSON compares the receipt encoder with encoding/json
// (the baseline) on a real countersigned receipt from a log of 4096
// entries (a 12-hash inclusion proof):
//
//	go test -run '^$' -bench ReceiptJSON ./tunnel/relay/
func BenchmarkReceiptJSON(b *testing.B) {
	p := newRecPair(b)
	var rc *receipt.Receipt
	var wg sync.WaitGroup
	for i := range 4096 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.a.r.Send(context.Background(), "city-general", "application/fhir+json", fhirBundle(fmt.Sprint("bench-", i)))
			if err != nil {
				b.Error(err)
			} else if i == 0 {
				rc = r
			}
		}()
	}
	wg.Wait()
	if rc == nil {
		b.FailNow()
	}
	rc, err := p.a.r.ReceiptFor(context.Background(), rc.Digest, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d hashes in the inclusion proof", len(rc.Ledger.InclusionProof))
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(rc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		buf := make([]byte, 0, 4<<10)
		for b.Loop() {
			buf = rc.AppendJSON(buf[:0])
		}
		b.SetBytes(int64(len(buf)))
	})
}
