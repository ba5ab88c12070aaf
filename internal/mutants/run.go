package mutants

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Result is the outcome of one mutant.
type Result string

const (
	// Killed: a named test failed against the mutant, as it must.
	Killed Result = "killed"
	// Survived: every named test passed against the mutant.
	Survived Result = "SURVIVED"
	// NotApplied: find does not occur exactly once (the code moved).
	NotApplied Result = "NOT-APPLIED"
	// NoTests: the -run regex matched no test in the packages.
	NoTests Result = "NO-TESTS"
	// BuildFailed: the mutated code does not compile; a mutant must.
	BuildFailed Result = "BUILD-FAILED"
	// Error: the go command could not be run at all.
	Error Result = "ERROR"
)

// Outcome is a mutant's result with its time and, when it is not killed,
// what the go command said.
type Outcome struct {
	Mutant  *Mutant
	Result  Result
	Elapsed time.Duration
	Detail  string
}

// Runner applies mutants and runs their tests.
type Runner struct {
	Root    string        // module root (the working tree)
	Go      string        // the go command (default "go")
	Timeout time.Duration // per mutant's go test (default 5m)
	Env     []string      // extra environment for go test
}

// Mutate returns the file's contents with the mutant applied, or an error
// saying how often find occurs.
func Mutate(src []byte, m *Mutant) ([]byte, error) {
	n := bytes.Count(src, []byte(m.Find))
	if n != 1 {
		return nil, fmt.Errorf("find %q occurs %d times in %s, want exactly once: update the mutant to the code as it is now", m.Find, n, m.Path())
	}
	return bytes.Replace(src, []byte(m.Find), []byte(m.Replace), 1), nil
}

// Run applies one mutant through an overlay and runs its named tests.
func (r *Runner) Run(ctx context.Context, m *Mutant) Outcome {
	start := time.Now()
	o := r.run(ctx, m)
	o.Mutant, o.Elapsed = m, time.Since(start)
	return o
}

func (r *Runner) run(ctx context.Context, m *Mutant) Outcome {
	root, err := filepath.Abs(r.Root)
	if err != nil {
		return Outcome{Result: Error, Detail: err.Error()}
	}
	target := filepath.Join(root, m.Path())
	src, err := os.ReadFile(target)
	if err != nil {
		return Outcome{Result: NotApplied, Detail: err.Error()}
	}
	mutated, err := Mutate(src, m)
	if err != nil {
		return Outcome{Result: NotApplied, Detail: err.Error()}
	}
	tmp, err := os.MkdirTemp("", "mutant-"+m.ID+"-")
	if err != nil {
		return Outcome{Result: Error, Detail: err.Error()}
	}
	defer os.RemoveAll(tmp)
	overlay, err := writeOverlay(tmp, target, mutated)
	if err != nil {
		return Outcome{Result: Error, Detail: err.Error()}
	}
	return r.goTest(ctx, root, overlay, m)
}

// writeOverlay writes the mutated file and the overlay JSON that puts it
// in place of target, and returns the overlay's path.
func writeOverlay(dir, target string, mutated []byte) (string, error) {
	file := filepath.Join(dir, filepath.Base(target))
	if err := os.WriteFile(file, mutated, 0o600); err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]map[string]string{"Replace": {target: file}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	return overlay, os.WriteFile(overlay, b, 0o600)
}

func (r *Runner) goTest(ctx context.Context, root, overlay string, m *Mutant) Outcome {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	goCmd := r.Go
	if goCmd == "" {
		goCmd = "go"
	}
	// -vet=off: make vet checks the unmutated tree; vetting every mutant
	// again only costs time (and "if false &&" mutants are not its business).
	args := append([]string{"test", "-json", "-vet=off", "-count=1", "-timeout", timeout.String(), "-run", m.Tests}, m.Pkgs()...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = root
	// GOFLAGS carries the overlay into go commands the tests run
	// themselves (integration tests build the daemons).
	cmd.Env = append(append(os.Environ(), r.Env...), "GOFLAGS="+joinFlags(os.Getenv("GOFLAGS"), "-overlay="+overlay))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Outcome{Result: Error, Detail: err.Error()}
	}
	if err := cmd.Start(); err != nil {
		return Outcome{Result: Error, Detail: err.Error()}
	}
	s := summarize(out)
	waitErr := cmd.Wait()
	return s.outcome(waitErr, stderr.String())
}

func joinFlags(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// event is one line of `go test -json`.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// testSummary is what a go test -json stream said.
type testSummary struct {
	ran, failed int
	buildFailed bool
	failedNames []string
	tail        []string // last output lines, for the report
}

func summarize(r io.Reader) *testSummary {
	s := &testSummary{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			s.keep(sc.Text())
			continue
		}
		s.add(e)
	}
	return s
}

func (s *testSummary) add(e event) {
	switch {
	case e.Action == "build-fail", e.Action == "output" && e.Test == "" && strings.Contains(e.Output, "[build failed]"),
		e.Action == "output" && e.Test == "" && strings.Contains(e.Output, "[setup failed]"):
		s.buildFailed = true
	case e.Test != "" && e.Action == "run":
		s.ran++
	case e.Test != "" && e.Action == "fail":
		s.failed++
		s.failedNames = append(s.failedNames, e.Test)
	}
	if e.Action == "output" || e.Action == "build-output" {
		s.keep(strings.TrimRight(e.Output, "\n"))
	}
}

func (s *testSummary) keep(line string) {
	s.tail = append(s.tail, line)
	if len(s.tail) > 40 {
		s.tail = s.tail[len(s.tail)-40:]
	}
}

// outcome decides the result: killed only when a named test failed; a
// failure without one (build, setup, panic outside a test) is not a kill.
func (s *testSummary) outcome(waitErr error, stderr string) Outcome {
	tail := strings.Join(s.tail, "\n")
	if stderr != "" {
		tail += "\n" + strings.TrimSpace(stderr)
	}
	switch {
	case s.buildFailed:
		return Outcome{Result: BuildFailed, Detail: tail}
	case s.failed > 0:
		return Outcome{Result: Killed, Detail: "failed: " + strings.Join(s.failedNames, ", ")}
	case s.ran == 0 && waitErr == nil:
		return Outcome{Result: NoTests, Detail: "the tests regex matched no test"}
	case waitErr != nil:
		// A package failed without a failing test: a panic in TestMain
		// or a timeout in init. Count it, but say so.
		return Outcome{Result: Killed, Detail: "package failed without a named test failing:\n" + tail}
	}
	return Outcome{Result: Survived, Detail: tail}
}

// RunAll runs the mutants, jobs at a time, and calls report as each ends
// (from one goroutine at a time). It returns the outcomes in input order.
func (r *Runner) RunAll(ctx context.Context, ms []*Mutant, jobs int, report func(Outcome)) []Outcome {
	if jobs < 1 {
		jobs = 1
	}
	out := make([]Outcome, len(ms))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, jobs)
	for i, m := range ms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := r.Run(ctx, m)
			mu.Lock()
			out[i] = o
			if report != nil {
				report(o)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
