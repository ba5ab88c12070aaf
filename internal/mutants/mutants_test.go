package mutants

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tiny is a module with one check (Abs negates negatives), a test that
// kills its mutant and a weak test that does not.
var tiny = map[string]string{
	"go.mod": "module example.com/tiny\n\ngo 1.22\n",
	"abs/abs.go": `package abs

// Abs is |x|.
func Abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Clamp limits x to 10.
func Clamp(x int) int {
	if x > 10 {
		return 10
	}
	return x
}
`,
	"abs/abs_test.go": `package abs

import "testing"

func TestAbsNegative(t *testing.T) {
	if Abs(-3) != 3 {
		t.Fatal("Abs(-3) != 3")
	}
}

// TestClampWeak never reaches the limit: it cannot see the check go.
func TestClampWeak(t *testing.T) {
	if Clamp(5) != 5 {
		t.Fatal("Clamp(5) != 5")
	}
}
`,
	"abs/mutants.json": `[
 {"id": "abs-negate", "guarantee": "G-ABS-1", "file": "abs.go",
  "find": "if x < 0 {", "replace": "if false {", "tests": "TestAbsNegative"},
 {"id": "clamp-limit", "guarantee": "G-ABS-2", "file": "abs.go",
  "find": "if x > 10 {", "replace": "if false {", "tests": "TestClampWeak"},
 {"id": "moved-code", "guarantee": "G-ABS-1", "file": "abs.go",
  "find": "if x <= 0 {", "replace": "if false {", "tests": "TestAbsNegative"},
 {"id": "ambiguous", "guarantee": "G-ABS-1", "file": "abs.go",
  "find": "return x", "replace": "return 0", "tests": "TestAbsNegative"},
 {"id": "no-compile", "guarantee": "G-ABS-1", "file": "abs.go",
  "find": "if x < 0 {", "replace": "if x < \"0\" {", "tests": "TestAbsNegative"},
 {"id": "no-such-test", "guarantee": "G-ABS-1", "file": "abs.go",
  "find": "if x < 0 {", "replace": "if false {", "tests": "TestNothingHere"}
]`,
	"guarantees.md": "# map\n\n| id | claim | enforced by | test | mutants |\n|---|---|---|---|---|\n" +
		"| G-ABS-1 | Abs is never negative | `Abs` | `TestAbsNegative` | abs-negate |\n" +
		"| G-ABS-2 | Clamp never exceeds 10 | `Clamp` | `TestClampWeak` | clamp-limit |\n" +
		"| G-ABS-3 | nothing backs this one | - | - | - |\n",
}

func writeTiny(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range tiny {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestRunDetectsEachOutcome(t *testing.T) {
	root := writeTiny(t)
	ms, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Result{
		"abs-negate":   Killed,
		"clamp-limit":  Survived,
		"moved-code":   NotApplied,
		"ambiguous":    NotApplied,
		"no-compile":   BuildFailed,
		"no-such-test": NoTests,
	}
	if len(ms) != len(want) {
		t.Fatalf("loaded %d mutants, want %d", len(ms), len(want))
	}
	r := &Runner{Root: root, Timeout: 2 * time.Minute}
	outs := r.RunAll(context.Background(), ms, 2, nil)
	for _, o := range outs {
		if o.Result != want[o.Mutant.ID] {
			t.Errorf("mutant %s: %s, want %s\n%s", o.Mutant.ID, o.Result, want[o.Mutant.ID], o.Detail)
		}
	}
	// The working tree is untouched: the mutant went through an overlay.
	if b, _ := os.ReadFile(filepath.Join(root, "abs/abs.go")); string(b) != tiny["abs/abs.go"] {
		t.Fatal("abs.go was edited in place")
	}
	var sb strings.Builder
	if err := Report(&sb, outs, time.Second, nil); err == nil || !strings.Contains(err.Error(), "5 mutants not killed") {
		t.Fatalf("Report: %v\n%s", err, sb.String())
	}
}

func TestCheckMapNamesGaps(t *testing.T) {
	root := writeTiny(t)
	ms, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "guarantees.md"))
	rows, err := ParseRows(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].ID != "G-ABS-1" || len(rows[0].Mutants) != 1 || rows[0].Mutants[0] != "abs-negate" {
		t.Fatalf("rows %+v", rows)
	}
	// G-ABS-3 has no mutant; a mutant naming G-ABS-9 has no row.
	ms = append(ms, &Mutant{ID: "orphan", Guarantee: "G-ABS-9", Dir: "abs"})
	err = CheckMap(rows, ms)
	if err == nil || !strings.Contains(err.Error(), "guarantee G-ABS-3 has no mutant") ||
		!strings.Contains(err.Error(), "names guarantee G-ABS-9, which docs/guarantees.md has no row for") {
		t.Fatalf("CheckMap: %v", err)
	}
	// A row naming a mutant of another row, or an unknown one.
	rows[1].Mutants = []string{"abs-negate", "never-defined"}
	err = CheckMap(rows, ms)
	if err == nil || !strings.Contains(err.Error(), "names mutant abs-negate, which belongs to G-ABS-1") ||
		!strings.Contains(err.Error(), "names mutant never-defined, which no mutants.json defines") {
		t.Fatalf("CheckMap: %v", err)
	}
}

func TestLoadRefusesBadEntries(t *testing.T) {
	for name, tc := range map[string]struct{ json, want string }{
		"unknown field": {`[{"id":"a-b","guarantee":"G-X-1","file":"a.go","find":"x","replace":"y","tests":"T","extra":1}]`, "unknown field"},
		"bad id":        {`[{"id":"A_B","guarantee":"G-X-1","file":"a.go","find":"x","replace":"y","tests":"T"}]`, "kebab-case"},
		"no tests":      {`[{"id":"a-b","guarantee":"G-X-1","file":"a.go","find":"x","replace":"y"}]`, "field tests is empty"},
		"same edit":     {`[{"id":"a-b","guarantee":"G-X-1","file":"a.go","find":"x","replace":"x","tests":"T"}]`, "changes nothing"},
		"outside dir":   {`[{"id":"a-b","guarantee":"G-X-1","file":"../a.go","find":"x","replace":"y","tests":"T"}]`, "inside the package"},
		"not go":        {`[{"id":"a-b","guarantee":"G-X-1","file":"a.sh","find":"x","replace":"y","tests":"T"}]`, "not a .go file"},
		"dup id": {`[{"id":"a-b","guarantee":"G-X-1","file":"a.go","find":"x","replace":"y","tests":"T"},
			{"id":"a-b","guarantee":"G-X-1","file":"a.go","find":"z","replace":"y","tests":"T"}]`, "unique"},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, FileName), []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(root); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
