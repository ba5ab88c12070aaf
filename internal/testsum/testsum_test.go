package testsum

import (
	"strings"
	"testing"
	"time"
)

// A run's events as go test -json writes them: one pass, one fail, an
// allowed skip and one that is not.
const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: boom\n"}
{"Action":"fail","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestRoot"}
{"Action":"output","Package":"p","Test":"TestRoot","Output":"    r_test.go:3: SKIPPED: needs root\n"}
{"Action":"skip","Package":"p","Test":"TestRoot"}
{"Action":"run","Package":"p","Test":"TestQuiet/sub"}
{"Action":"output","Package":"p","Test":"TestQuiet/sub","Output":"    q_test.go:5: nothing to do here\n"}
{"Action":"skip","Package":"p","Test":"TestQuiet/sub"}
{"Action":"fail","Package":"p"}
# q [q.test]
{"Action":"fail","Package":"q"}
`

func TestSummaryCountsAndRefusesUnlistedSkips(t *testing.T) {
	var echo strings.Builder
	s := Read(strings.NewReader(stream), &echo)
	if len(s.Passed) != 1 || len(s.Failed) != 1 || len(s.Skipped) != 2 {
		t.Fatalf("passed %d failed %d skipped %d", len(s.Passed), len(s.Failed), len(s.Skipped))
	}
	if len(s.BuildFailed) != 1 || s.BuildFailed[0] != "q" {
		t.Fatalf("packages failed outside a test: %v (p failed through TestB only)", s.BuildFailed)
	}
	// As go test without -v: a failing test's output and the package
	// lines are shown, a passing or skipped test's are not.
	if e := echo.String(); !strings.Contains(e, "boom") || !strings.Contains(e, "# q [q.test]") || strings.Contains(e, "=== RUN   TestA") || strings.Contains(e, "needs root") {
		t.Fatalf("echoed %q", e)
	}
	allow, err := ParseAllowlist(strings.NewReader("# comment\n\nTestRoot needs root; CI is root\n"))
	if err != nil {
		t.Fatal(err)
	}
	var rep strings.Builder
	err = Report(&rep, s, allow, time.Second)
	if err == nil || !strings.Contains(err.Error(), "1 skips not on the allowlist") || !strings.Contains(err.Error(), "2 failures") {
		t.Fatalf("Report: %v", err)
	}
	for _, want := range []string{"1 passed, 1 failed, 2 skipped (1 not on the allowlist)", "SKIP (not allowed) p TestQuiet/sub: q_test.go:5: nothing to do here", "SKIP  p TestRoot"} {
		if !strings.Contains(rep.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, rep.String())
		}
	}
	// With every skip allowed and no failures, the run passes.
	s.Failed, s.BuildFailed = nil, nil
	allow, _ = ParseAllowlist(strings.NewReader("TestRoot needs root\nTestQuiet/.* nothing to do on this machine\n"))
	if err := Report(&rep, s, allow, time.Second); err != nil {
		t.Fatalf("all skips allowed: %v", err)
	}
}

func TestAllowlistNeedsReason(t *testing.T) {
	if _, err := ParseAllowlist(strings.NewReader("TestX\n")); err == nil || !strings.Contains(err.Error(), "has no reason") {
		t.Fatalf("line without reason: %v", err)
	}
	if _, err := ParseAllowlist(strings.NewReader("Test( broken\n")); err == nil {
		t.Fatal("bad regexp accepted")
	}
}
