package proof_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
)

func testSigner(t testing.TB, seed byte) *proof.KeySigner {
	t.Helper()
	s, err := proof.NewKeySigner(ed25519.NewKeyFromSeed(make32(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func make32(b byte) []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = b
	}
	return s
}

func testEntry(i int) proof.Entry {
	rec := []byte{byte(i), byte(i >> 8), byte(i >> 16)}
	return proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(rec), Sender: "st-mary", Receiver: "city-general", ContentType: "application/hl7-v2"}
}
