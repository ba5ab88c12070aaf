package mutants

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRepoMapAndMutantsApply checks this repository's own guarantee map
// and mutants the cheap way, in `make test`: every row has a mutant and
// every mutant a row, and every mutant still applies to the code as it
// is. A refactor that moves a check then fails here in seconds, not only
// in the longer `make mutants` that runs after it.
func TestRepoMapAndMutantsApply(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "guarantees.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ParseRows(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckMap(rows, ms); err != nil {
		t.Error(err)
	}
	for _, m := range ms {
		src, err := os.ReadFile(filepath.Join(root, m.Path()))
		if err != nil {
			t.Errorf("mutant %s: %v", m.ID, err)
			continue
		}
		if _, err := Mutate(src, m); err != nil {
			t.Errorf("mutant %s: %v", m.ID, err)
		}
	}
}
