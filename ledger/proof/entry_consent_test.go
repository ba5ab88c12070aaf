package proof_test

import (
	"bytes"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
)

func consentEntry() proof.Entry {
	e := testEntry(7)
	e.Log, e.Seq = "st-mary", 4
	e.Consent = proof.ConsentFields{ID: "c-1", Version: "3", Digest: [32]byte{1}, Patient: [32]byte{2}}
	return e
}

// TestEntryV2 checks that consent fields are encoded as v2, round-trip,
// and are covered by the signature, while an entry without them keeps the
// v1 encoding (old receipts verify unchanged).
func TestEntryV2(t *testing.T) {
	s := testSigner(t, 5)
	plain, withConsent := testEntry(7), consentEntry()
	plain.Log, plain.Seq = "st-mary", 4
	if !bytes.HasPrefix(plain.SignedBytes(), []byte(proof.EntryDomain)) {
		t.Fatal("entry without consent fields is not v1")
	}
	if !bytes.HasPrefix(withConsent.SignedBytes(), []byte(proof.EntryDomainV2)) {
		t.Fatal("entry with consent fields is not v2")
	}
	raws, err := proof.SignEntries(s, []*proof.Entry{&plain, &withConsent})
	if err != nil {
		t.Fatal(err)
	}
	var d proof.Entry
	if err := d.UnmarshalBinary(raws[1]); err != nil {
		t.Fatal(err)
	}
	if d.Consent != withConsent.Consent {
		t.Fatalf("consent fields %+v, want %+v", d.Consent, withConsent.Consent)
	}
	if err := d.VerifySignature(s.Public()); err != nil {
		t.Fatal(err)
	}
	d.Consent.ID = "c-2"
	if d.VerifySignature(s.Public()) == nil {
		t.Fatal("an edited consent id still verifies")
	}
	for i := range raws[1] {
		var x proof.Entry
		if x.UnmarshalBinary(raws[1][:i]) == nil {
			t.Fatalf("truncated v2 entry of %d bytes parsed", i)
		}
	}
}

func TestRefusedEntry(t *testing.T) {
	e := testEntry(8)
	e.Kind, e.Log, e.Signature = proof.KindRefused, "st-mary", make([]byte, 64)
	e.Consent = proof.ConsentFields{Patient: [32]byte{9}, Reason: "no_consent"}
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var d proof.Entry
	if err := d.UnmarshalBinary(b); err != nil || d.Kind.String() != "refused" || d.Consent.Reason != "no_consent" {
		t.Fatalf("refused entry: %v %+v", err, d)
	}
}
