package consent

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// BenchmarkGateCheck: one FHIR record's consent decision with 10,000
// consents on file (subject parse, lookup, provision tree, patient hash).
func BenchmarkGateCheck(b *testing.B) {
	g := benchGate(b)
	rec := []byte(`{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":"Patient/p4242"},"valueString":"` + fmt.Sprintf("%0900d", 1) + `"}`)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := g.Check(context.Background(), "bravo", "application/fhir+json", rec, "TREAT", now); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDir holds benchGate's store; TestMain removes it.
var benchDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

var benchGateOnce = sync.OnceValue(func() *Gate {
	dir, err := os.MkdirTemp("", "consent-bench-")
	if err != nil {
		panic(err)
	}
	benchDir = dir
	st, err := Open(dir)
	if err != nil {
		panic(err)
	}
	h, err := LoadHasher(dir)
	if err != nil {
		panic(err)
	}
	g := &Gate{Mode: ModeRequired, Store: st, Hasher: h, Orgs: map[string]string{"bravo": "org-bravo"}}
	for i := range 10000 {
		if _, err := st.Put([]byte(consentJSON(fmt.Sprintf("c-%d", i), fmt.Sprintf("p%d", i), "active", "org-bravo", "TREAT", "", denyPSY))); err != nil {
			panic(err)
		}
	}
	return g
})

// benchGate is a gate with 10,000 consents on file, built once per run
// (storing them is most of a benchmark's setup).
func benchGate(*testing.B) *Gate { return benchGateOnce() }

// BenchmarkSubject: reading a 1 KB record's patient and data classes, by
// the one-pass scanner (the gate) and by json.Unmarshal (its former
// reading, kept in the tests as the reference), in the same run.
func BenchmarkSubject(b *testing.B) {
	rec := []byte(`{"resourceType":"Observation","id":"o1","status":"final","meta":{"security":[{"code":"N"}]},"subject":{"reference":"Patient/p4242"},"valueString":"` + fmt.Sprintf("%0900d", 1) + `"}`)
	for _, bc := range []struct {
		name string
		read func([]byte) error
	}{
		{"scan", func(r []byte) error { _, err := fhirSubject(r); return err }},
		{"unmarshal", func(r []byte) error { _, _, err := refSubject(r); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for range b.N {
				if err := bc.read(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
