package attesttest

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"
)

func keys(t *testing.T) ([32]byte, ed25519.PublicKey) {
	var wg [32]byte
	rand.Read(wg[:])
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return wg, pub
}

func TestPassAndFailAreRealVerdicts(t *testing.T) {
	f := New(t)
	wg, rk := keys(t)
	pass := f.Pass(t, "hospital-b", wg, rk, time.Minute)
	if !pass.Valid(time.Now()) || pass.WireGuardKey() != wg || !pass.RecordKey().Equal(rk) || pass.Peer() != "hospital-b" {
		t.Fatalf("passing verdict: valid=%v peer=%q", pass.Valid(time.Now()), pass.Peer())
	}
	if pass.Valid(time.Now().Add(2 * time.Minute)) {
		t.Fatal("verdict valid after its lifetime")
	}
	fail := f.Fail(t, "hospital-b", wg, rk)
	if fail.Valid(time.Now()) {
		t.Fatal("failing verdict is valid")
	}
	codes := map[string]bool{}
	for _, r := range fail.Reasons() {
		codes[r.Code] = true
	}
	if !codes["component-unapproved"] {
		t.Fatalf("failing verdict reasons = %v, want component-unapproved", fail.Reasons())
	}
	// The shared fixture works for a second caller in the same process.
	if g := New(t); g != f {
		t.Fatal("New returned a second fixture")
	}
}
