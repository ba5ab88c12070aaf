package records

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

func postBulk(t *testing.T, b *recBox, to, ctype string, body []byte) (int, []byte) {
	t.Helper()
	return postTo(t, b, bulkPath, to, ctype, body)
}

// A bulk NDJSON request: every resource line becomes its own record with a
// receipt that verifies against both boxes' keys; blank lines are skipped
// and line numbers name the lines of the request. Sending it again delivers
// nothing twice. Bad requests are refused whole, before anything is sent.
func TestBulkIntake(t *testing.T) {
	p := newRecPair(t)
	recs := [][]byte{fhirBundle(randMarker(t)), fhirBundle(randMarker(t)), fhirBundle(randMarker(t))}
	body := []byte(string(recs[0]) + "\n\n" + string(recs[1]) + "\r\n" + string(recs[2]))
	st, out := postBulk(t, p.a, "city-general", BulkContentType, body)
	if st != http.StatusOK {
		t.Fatalf("bulk: %d %s", st, out)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d answer lines, want 3: %s", len(lines), out)
	}
	for i, ln := range lines {
		var bl bulkLine
		if err := json.Unmarshal(ln, &bl); err != nil {
			t.Fatal(err)
		}
		if want := []int{1, 3, 4}[i]; bl.Line != want || bl.Receipt == nil {
			t.Fatalf("answer %d: line %d (want %d), %s", i, bl.Line, want, ln)
		}
		if _, err := receipt.VerifyReceipt(context.Background(), bl.Receipt, p.a.signer.Public(), p.b.signer.Public(),
			proof.VerifyOptions{Record: recs[i]}); err != nil {
			t.Fatalf("receipt of line %d: %v", bl.Line, err)
		}
	}
	if p.ep.count() != 3 {
		t.Fatalf("delivered %d, want 3", p.ep.count())
	}
	// Again: the same records, the same receipts' entries, no second delivery.
	if st, out := postBulk(t, p.a, "city-general", BulkContentType, body); st != http.StatusOK || bytes.Count(out, []byte(`"receipt"`)) != 3 {
		t.Fatalf("resend: %d %s", st, out)
	}
	if p.ep.count() != 3 || len(p.a.l.Lookup(sha256.Sum256(recs[0]))) != 1 {
		t.Fatalf("resend delivered %d, journaled %d", p.ep.count(), len(p.a.l.Lookup(sha256.Sum256(recs[0]))))
	}
	st, out = postBulk(t, p.a, "city-general", "application/fhir+json", body)
	wantRefusal(t, st, out, http.StatusBadRequest, codeBadRequest, BulkContentType)
	st, out = postBulk(t, p.a, "nowhere", BulkContentType, body)
	wantRefusal(t, st, out, http.StatusForbidden, codeNotAdmitted, "nowhere")
	st, out = postBulk(t, p.a, "city-general", BulkContentType, []byte("\n\n"))
	wantRefusal(t, st, out, http.StatusBadRequest, codeBadRequest, "no records")
	st, out = postBulk(t, p.a, "city-general", BulkContentType, []byte(strings.Repeat("x", 70<<10)))
	wantRefusal(t, st, out, http.StatusRequestEntityTooLarge, codeTooLarge, "max_body")
	if p.ep.count() != 3 {
		t.Fatalf("refused requests delivered something: %d", p.ep.count())
	}
}
