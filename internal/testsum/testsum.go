// Package testsum runs `go test -json`, prints the tests' output as go
// test would, and ends with a summary of passed, failed and skipped tests.
// A skip fails the run unless an allowlist (.ci/skips.txt) names the test
// with a reason: CI runs as root with every dependency installed, so a
// test that skips there checks nothing, and must say why that is fine.
package testsum

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Allow is one allowlist line: tests whose full name (Test/sub) matches
// Pattern may skip, for Reason.
type Allow struct {
	Pattern *regexp.Regexp
	Reason  string
}

// ParseAllowlist reads lines of "<regexp of the test name> <reason>";
// blank lines and lines starting with # are ignored. The regexp is
// anchored to the whole name; a line without a reason is refused.
func ParseAllowlist(r io.Reader) ([]Allow, error) {
	var out []Allow
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, reason, _ := strings.Cut(line, " ")
		reason = strings.TrimSpace(reason)
		if reason == "" {
			return nil, fmt.Errorf("skips line %d: %q has no reason; write the test name, a space, and why its skip is acceptable", n, pat)
		}
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			return nil, fmt.Errorf("skips line %d: %w", n, err)
		}
		out = append(out, Allow{Pattern: re, Reason: reason})
	}
	return out, sc.Err()
}

// Event is one line of `go test -json`.
type Event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// Result is one test's end.
type Result struct {
	Package, Test, Action string
	Output                []string // the test's own output, kept for failures and skips
}

// Summary counts what a run did.
type Summary struct {
	Passed, Failed, Skipped []Result
	BuildFailed             []string // packages that did not build or whose binary failed outside a test
	outputs                 map[string][]string
}

// maxKept bounds the output lines kept per test (memory stays bounded
// however chatty a test is).
const maxKept = 2000

func key(pkg, test string) string { return pkg + " " + test }

// Add records one event and returns the text to echo, if any.
func (s *Summary) Add(e Event) string {
	if s.outputs == nil {
		s.outputs = map[string][]string{}
	}
	switch e.Action {
	case "output":
		// As go test without -v: a test's output is shown only if it
		// fails; the package lines (ok, FAIL, panics) always.
		if e.Test != "" {
			k := key(e.Package, e.Test)
			if o := s.outputs[k]; len(o) < maxKept {
				s.outputs[k] = append(o, e.Output)
			}
			return ""
		}
		if e.Output == "PASS\n" {
			return ""
		}
		return e.Output
	case "build-output":
		return e.Output
	case "pass", "fail", "skip":
		if e.Test == "" {
			if e.Action == "fail" {
				s.pkgFailed(e.Package)
			}
			return ""
		}
		k := key(e.Package, e.Test)
		r := Result{Package: e.Package, Test: e.Test, Action: e.Action, Output: s.outputs[k]}
		delete(s.outputs, k)
		switch e.Action {
		case "pass":
			s.Passed = append(s.Passed, r)
		case "fail":
			s.Failed = append(s.Failed, r)
			return strings.Join(r.Output, "")
		case "skip":
			s.Skipped = append(s.Skipped, r)
		}
	}
	return ""
}

// pkgFailed notes a package that failed; if none of its tests failed, it
// failed to build or outside any test (a panic in TestMain, a timeout).
func (s *Summary) pkgFailed(pkg string) {
	for _, r := range s.Failed {
		if r.Package == pkg {
			return
		}
	}
	s.BuildFailed = append(s.BuildFailed, pkg)
}

// Unallowed returns the skips no allowlist line covers.
func (s *Summary) Unallowed(allow []Allow) []Result {
	var out []Result
	for _, r := range s.Skipped {
		ok := false
		for _, a := range allow {
			if a.Pattern.MatchString(r.Test) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, r)
		}
	}
	return out
}

// Read consumes a go test -json stream, echoing output to w (non-JSON
// lines, such as build errors, are echoed as they are).
func Read(r io.Reader, w io.Writer) *Summary {
	s := &Summary{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Action == "" {
			fmt.Fprintln(w, sc.Text())
			continue
		}
		if out := s.Add(e); out != "" {
			io.WriteString(w, out)
		}
	}
	return s
}

// Report prints the summary and returns an error if anything failed or a
// skip is not allowed.
func Report(w io.Writer, s *Summary, allow []Allow, elapsed time.Duration) error {
	bad := s.Unallowed(allow)
	fmt.Fprintf(w, "\n==== test summary: %d passed, %d failed, %d skipped (%d not on the allowlist); %d packages failed outside a test; %s\n",
		len(s.Passed), len(s.Failed), len(s.Skipped), len(bad), len(s.BuildFailed), elapsed.Round(time.Second))
	for _, r := range s.Failed {
		fmt.Fprintf(w, "FAIL  %s %s\n", r.Package, r.Test)
	}
	for _, p := range s.BuildFailed {
		fmt.Fprintf(w, "FAIL  %s (build, TestMain or timeout: see its output above)\n", p)
	}
	for _, r := range s.Skipped {
		why := firstSkipLine(r.Output)
		mark := "SKIP "
		if contains(bad, r) {
			mark = "SKIP (not allowed)"
		}
		fmt.Fprintf(w, "%s %s %s: %s\n", mark, r.Package, r.Test, why)
	}
	var errs []string
	if n := len(s.Failed) + len(s.BuildFailed); n > 0 {
		errs = append(errs, fmt.Sprintf("%d failures", n))
	}
	if len(bad) > 0 {
		errs = append(errs, fmt.Sprintf("%d skips not on the allowlist (a skipped test checks nothing: make it run, or add it to the allowlist with the reason)", len(bad)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func contains(rs []Result, r Result) bool {
	for _, x := range rs {
		if x.Package == r.Package && x.Test == r.Test {
			return true
		}
	}
	return false
}

// firstSkipLine is the skip message from a skipped test's output.
func firstSkipLine(out []string) string {
	for _, l := range out {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		return l
	}
	return "(no message)"
}
