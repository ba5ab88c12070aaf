package consent

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkGateCheck: one FHIR record's consent decision with 10,000
// consents on file (subject parse, lookup, provision tree, patient hash).
func BenchmarkGateCheck(b *testing.B) {
	g := newGate(b)
	for i := range 10000 {
		put(b, g, consentJSON(fmt.Sprintf("c-%d", i), fmt.Sprintf("p%d", i), "active", "org-bravo", "TREAT", "", denyPSY))
	}
	rec := []byte(`{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":"Patient/p4242"},"valueString":"` + fmt.Sprintf("%0900d", 1) + `"}`)
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for range b.N {
		if _, err := g.Check(context.Background(), "bravo", "application/fhir+json", rec, "TREAT", now); err != nil {
			b.Fatal(err)
		}
	}
}
