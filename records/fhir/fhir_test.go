package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Blank lines are skipped, CRLF is cut, line numbers name the body's lines,
// and the bound and emptiness are refused.
func TestSplitNDJSON(t *testing.T) {
	recs, nums, err := SplitNDJSON([]byte("{\"a\":1}\n\n{\"b\":2}\r\n  \n{\"c\":3}"), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}
	for i := range want {
		if string(recs[i]) != want[i] || nums[i] != []int{1, 3, 5}[i] {
			t.Fatalf("record %d: %q at line %d", i, recs[i], nums[i])
		}
	}
	if _, _, err := SplitNDJSON([]byte("{}\n{}\n{}\n{}"), 3); !errors.Is(err, ErrTooMany) {
		t.Fatalf("over the bound: %v", err)
	}
	if _, _, err := SplitNDJSON([]byte("\n\r\n"), 3); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty: %v", err)
	}
}

// SplitNDJSON bounds the number of records and never returns an empty one.
func FuzzSplitNDJSON(f *testing.F) {
	const max = 10000
	f.Add([]byte("{}\n{}\r\n\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, nums, err := SplitNDJSON(b, max)
		if err != nil {
			return
		}
		if len(recs) == 0 || len(recs) > max || len(recs) != len(nums) {
			t.Fatalf("%d records, %d line numbers", len(recs), len(nums))
		}
		for i, r := range recs {
			if len(bytes.TrimSpace(r)) == 0 || bytes.ContainsAny(r, "\n") || (i > 0 && nums[i] <= nums[i-1]) {
				t.Fatalf("record %d %q at line %d", i, r, nums[i])
			}
		}
	})
}

func TestResourceType(t *testing.T) {
	for body, want := range map[string]string{
		`{"resourceType":"Observation","id":"x"}`:                  "Observation",
		`{"resourceType":"Basic2"}`:                                "Basic2",
		`{"resourceType":"observation"}`:                           "",
		`{"resourceType":"Obs/../x"}`:                              "",
		`{"resourceType":""}`:                                      "",
		`{"resourceType":"` + "A" + strings.Repeat("a", 64) + `"}`: "",
		`{"just":"json"}`:                                          "",
		`MSH|^~\&|`:                                                "",
	} {
		if got := ResourceType([]byte(body)); got != want {
			t.Errorf("ResourceType(%s) = %q, want %q", body, got, want)
		}
	}
}

// The Bundle is valid JSON that carries each resource byte for byte and
// POSTs it to its type.
func TestBatchBundle(t *testing.T) {
	res := [][]byte{[]byte(`{"resourceType":"Patient","id":"p"}`), []byte(`{"resourceType":"Basic", "id" : "b"}`)}
	b := BatchBundle(res, []string{"Patient", "Basic"})
	var bundle struct {
		ResourceType, Type string
		Entry              []struct {
			Resource json.RawMessage
			Request  struct{ Method, URL string }
		}
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if bundle.ResourceType != "Bundle" || bundle.Type != "batch" || len(bundle.Entry) != 2 {
		t.Fatalf("bundle %s", b)
	}
	for k, e := range bundle.Entry {
		if !bytes.Equal(e.Resource, res[k]) || e.Request.Method != "POST" || e.Request.URL != []string{"Patient", "Basic"}[k] {
			t.Fatalf("entry %d: %s %+v", k, e.Resource, e.Request)
		}
	}
}

// Each entry keeps its status and outcome; an answer that is not a
// batch-response of the right length is refused whole.
func TestParseBatchResponse(t *testing.T) {
	raw := []byte(`{"resourceType":"Bundle","type":"batch-response","entry":[
		{"response":{"status":"201 Created"}},
		{"response":{"status":"400 Bad Request","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"business-rule","diagnostics":"note says REJECT"}]}}},
		{"response":{"status":" 200"}}]}`)
	rs, err := ParseBatchResponse(raw, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !rs[0].OK() || rs[1].OK() || !rs[2].OK() {
		t.Fatalf("statuses %+v", rs)
	}
	if got := rs[1].Outcome.Text(); got != " (business-rule: note says REJECT)" {
		t.Fatalf("outcome text %q", got)
	}
	if rs[0].Outcome.Text() != "" {
		t.Fatal("no outcome quotes nothing")
	}
	for _, bad := range []struct {
		raw  string
		want int
	}{
		{string(raw), 2},
		{`{"resourceType":"Bundle","type":"batch","entry":[]}`, 0},
		{`{"resourceType":"OperationOutcome"}`, 0},
		{`not json`, 0},
	} {
		if _, err := ParseBatchResponse([]byte(bad.raw), bad.want); !errors.Is(err, ErrNotBatchResponse) {
			t.Fatalf("%.40s (want %d): %v", bad.raw, bad.want, err)
		}
	}
}

// A chatty server's outcome is cut to 200 bytes; a code alone has no colon.
func TestOutcomeText(t *testing.T) {
	var o OperationOutcome
	json.Unmarshal([]byte(`{"issue":[{"code":"invalid","diagnostics":"`+strings.Repeat("x", 500)+`"}]}`), &o)
	if got := o.Text(); len(got) != 2+200+3+1 || !strings.HasSuffix(got, "...)") {
		t.Fatalf("long outcome %d bytes: %q", len(got), got)
	}
	o = OperationOutcome{}
	json.Unmarshal([]byte(`{"issue":[{"code":"invalid"}]}`), &o)
	if got := o.Text(); got != " (invalid)" {
		t.Fatalf("code only: %q", got)
	}
}
