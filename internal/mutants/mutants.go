// Package mutants proves that each guarantee in docs/guarantees.md has a
// test that fails without its check. A mutant is a small edit that removes
// or inverts one check; it lives as data in a mutants.json file next to the
// code it breaks, so the list survives refactors (a mutant whose code moved
// no longer applies, and that fails the run).
//
// Each mutant is applied through `go test -overlay` (the mutated file is
// written to a temporary directory and the go command reads it in place of
// the original), so the working tree is never edited and no copy of it is
// made. The overlay is also passed in GOFLAGS, so tests that build the
// daemons themselves (integration/) build the mutated code too.
package mutants

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// FileName is the name of the mutant list in each package directory.
const FileName = "mutants.json"

// Mutant is one entry of a mutants.json file (format fixed in issue 21).
type Mutant struct {
	ID        string `json:"id"`        // unique across the repository, kebab-case
	Guarantee string `json:"guarantee"` // the row id in docs/guarantees.md
	File      string `json:"file"`      // relative to the mutants.json directory
	Find      string `json:"find"`      // occurs exactly once in File
	Replace   string `json:"replace"`   // the broken code; must compile
	Tests     string `json:"tests"`     // -run regex of the tests that kill it
	Pkg       string `json:"pkg"`       // package patterns to test; default the directory

	Dir string `json:"-"` // directory of the mutants.json, relative to the root
}

// Path is the mutated file, relative to the root.
func (m *Mutant) Path() string { return filepath.Join(m.Dir, m.File) }

// Pkgs are the package patterns whose tests run against the mutant.
func (m *Mutant) Pkgs() []string {
	if f := strings.Fields(m.Pkg); len(f) > 0 {
		return f
	}
	return []string{"./" + filepath.ToSlash(m.Dir) + "/"}
}

var idRule = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// skipDir names directories never searched for mutant lists: VCS data,
// test data, and state a demo or build leaves in the tree.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" ||
		name == "node_modules" || name == "bin" || name == "dist" || strings.HasSuffix(name, "-state")
}

// Load reads every mutants.json under root and checks each entry's fields.
func Load(root string) ([]*Mutant, error) {
	var out []*Mutant
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != FileName {
			return nil
		}
		ms, err := loadFile(root, path)
		out = append(out, ms...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, checkIDs(out)
}

func loadFile(root, path string) ([]*Mutant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ms []*Mutant
	if err := dec.Decode(&ms); err != nil {
		return nil, fmt.Errorf("%s: %w (want a JSON array of {id, guarantee, file, find, replace, tests, pkg})", path, err)
	}
	dir, err := filepath.Rel(root, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	for i, m := range ms {
		m.Dir = dir
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", path, i, err)
		}
	}
	return ms, nil
}

// validate names the first missing or malformed field.
func (m *Mutant) validate() error {
	switch {
	case !idRule.MatchString(m.ID):
		return fmt.Errorf("field id %q must be kebab-case (a-z, 0-9, single dashes)", m.ID)
	case m.Guarantee == "":
		return fmt.Errorf("mutant %s: field guarantee is empty; name a row id of docs/guarantees.md", m.ID)
	case m.File == "" || filepath.IsAbs(m.File) || strings.Contains(filepath.ToSlash(m.File), ".."):
		return fmt.Errorf("mutant %s: field file %q must be a path inside the package directory", m.ID, m.File)
	case !strings.HasSuffix(m.File, ".go"):
		return fmt.Errorf("mutant %s: field file %q is not a .go file (only Go sources can be overlaid)", m.ID, m.File)
	case m.Find == "":
		return fmt.Errorf("mutant %s: field find is empty", m.ID)
	case m.Find == m.Replace:
		return fmt.Errorf("mutant %s: fields find and replace are equal; the mutant changes nothing", m.ID)
	case m.Tests == "":
		return fmt.Errorf("mutant %s: field tests is empty; give the -run regex of the tests that kill it", m.ID)
	}
	if _, err := regexp.Compile(m.Tests); err != nil {
		return fmt.Errorf("mutant %s: field tests: %w", m.ID, err)
	}
	return nil
}

func checkIDs(ms []*Mutant) error {
	seen := map[string]string{}
	for _, m := range ms {
		if prev, ok := seen[m.ID]; ok {
			return fmt.Errorf("mutant id %q is used in %s and %s; ids are unique across the repository", m.ID, prev, m.Dir)
		}
		seen[m.ID] = m.Dir
	}
	return nil
}

// Row is one guarantee of docs/guarantees.md.
type Row struct {
	ID      string
	Mutants []string // the ids the row's last column names
}

var rowID = regexp.MustCompile("^`?(G-[A-Z0-9]+(?:-[A-Z0-9]+)*)`?$")

// ParseRows reads the guarantee table rows: markdown table lines whose
// first cell is a row id (G-AREA-N).
func ParseRows(doc []byte) ([]Row, error) {
	var rows []Row
	seen := map[string]bool{}
	for i, line := range strings.Split(string(doc), "\n") {
		cells := splitRow(line)
		if len(cells) == 0 {
			continue
		}
		m := rowID.FindStringSubmatch(cells[0])
		if m == nil {
			continue
		}
		if len(cells) != 5 {
			return nil, fmt.Errorf("line %d: row %s has %d cells, want 5 (id, claim, enforced by, test, mutants)", i+1, m[1], len(cells))
		}
		if seen[m[1]] {
			return nil, fmt.Errorf("line %d: row id %s appears twice", i+1, m[1])
		}
		seen[m[1]] = true
		rows = append(rows, Row{ID: m[1], Mutants: mutantIDs(cells[4])})
	}
	return rows, nil
}

// splitRow splits a markdown table line into trimmed cells (nil if the
// line is not a table row). A pipe inside backquotes is escaped as \|.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	line = strings.ReplaceAll(line[1:len(line)-1], `\|`, "\x00")
	cells := strings.Split(line, "|")
	for i, c := range cells {
		cells[i] = strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|"))
	}
	return cells
}

var mutantRef = regexp.MustCompile("[a-z0-9]+(?:-[a-z0-9]+)+")

func mutantIDs(cell string) []string { return mutantRef.FindAllString(cell, -1) }

// CheckMap fails when a row has no mutant, a mutant names no row, or a row
// names a mutant that does not exist or belongs to another row.
func CheckMap(rows []Row, ms []*Mutant) error {
	byID := map[string]*Mutant{}
	perRow := map[string]int{}
	for _, m := range ms {
		byID[m.ID] = m
		perRow[m.Guarantee]++
	}
	known := map[string]bool{}
	var errs []error
	for _, r := range rows {
		known[r.ID] = true
		if perRow[r.ID] == 0 {
			errs = append(errs, fmt.Errorf("guarantee %s has no mutant: add one to the mutants.json beside its check", r.ID))
		}
		for _, id := range r.Mutants {
			m, ok := byID[id]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("guarantee %s names mutant %s, which no mutants.json defines", r.ID, id))
			case m.Guarantee != r.ID:
				errs = append(errs, fmt.Errorf("guarantee %s names mutant %s, which belongs to %s", r.ID, id, m.Guarantee))
			}
		}
	}
	var orphans []string
	for _, m := range ms {
		if !known[m.Guarantee] {
			orphans = append(orphans, fmt.Sprintf("mutant %s (%s) names guarantee %s, which docs/guarantees.md has no row for", m.ID, m.Dir, m.Guarantee))
		}
	}
	sort.Strings(orphans)
	for _, o := range orphans {
		errs = append(errs, errors.New(o))
	}
	return errors.Join(errs...)
}
