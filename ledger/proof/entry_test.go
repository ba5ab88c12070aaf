package proof_test

import (
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
)

func TestEntryEncodingRoundTrip(t *testing.T) {
	e := testEntry(3)
	e.Log, e.Seq, e.Signature = "st-mary", 9, make([]byte, 64)
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var d proof.Entry
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := d.MarshalBinary()
	if string(b) != string(b2) {
		t.Fatal("entry does not round-trip")
	}
	for i := range b {
		var x proof.Entry
		if x.UnmarshalBinary(b[:i]) == nil {
			t.Fatalf("truncated entry of %d bytes parsed", i)
		}
	}
}

// FuzzEntryUnmarshal: entries arrive inside receipts.
func FuzzEntryUnmarshal(f *testing.F) {
	e := testEntry(1)
	e.Log, e.Signature = "st-mary", make([]byte, 64)
	b, _ := e.MarshalBinary()
	f.Add(b)
	c := consentEntry()
	c.Signature = make([]byte, 64)
	b, _ = c.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var e proof.Entry
		if e.UnmarshalBinary(b) != nil {
			return
		}
		out, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed entry does not re-encode: %v", err)
		}
		if string(out) != string(b) {
			t.Fatalf("entry encoding is not canonical")
		}
	})
}
