// Package testutil holds the helpers that tests across wardgate share:
// polling for a condition, free loopback ports and test loggers. It is
// imported only from _test files and test tooling.
package testutil

import (
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// DefaultWait bounds WaitFor: long enough for a cold dev chain or a TPM
// simulator on a loaded 2-core machine, short enough to fail a hung test.
const DefaultWait = 30 * time.Second

// WaitFor polls cond every 10 ms until it holds, failing the test after
// DefaultWait with what was awaited.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitForWithin(t, DefaultWait, what, cond)
}

// WaitForWithin is WaitFor with its own bound.
func WaitForWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// QuietLogger keeps warnings and errors on stderr and drops info lines.
func QuietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Logger writes every line through t.Log, so it shows only for failed or
// verbose tests.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// EnvLogger discards everything unless WARDGATE_TEST_LOG is set, then logs
// at debug level to stderr. Unlike Logger it is safe for goroutines that
// outlive the test.
func EnvLogger() *slog.Logger {
	if os.Getenv("WARDGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
