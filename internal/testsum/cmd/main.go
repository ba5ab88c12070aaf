// Command testsum is `make unit` and `make race`: it runs go test -json
// with the arguments after --, echoes the output, and ends with the
// summary of package testsum. It exits 1 if go test failed or a test
// skipped without an allowlist line.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/wardgate/wardgate/internal/testsum"
)

func main() {
	skips := flag.String("skips", ".ci/skips.txt", "allowlist of tests that may skip: <regexp> <reason> per line")
	flag.Parse()
	if err := run(*skips, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(1)
	}
}

func run(skipsPath string, args []string) error {
	allow, err := readAllow(skipsPath)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	s := testsum.Read(out, os.Stdout)
	waitErr := cmd.Wait()
	repErr := testsum.Report(os.Stdout, s, allow, time.Since(start))
	if waitErr != nil && repErr == nil {
		repErr = fmt.Errorf("go test: %w", waitErr)
	}
	return repErr
}

func readAllow(path string) ([]testsum.Allow, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return testsum.ParseAllowlist(f)
}
