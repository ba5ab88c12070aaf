// Command wardgate is the local CLI of a wardgate box. It talks to
// wardgated over the control socket (like `wg` and `tailscale` do), except
// `verify`, which checks a record receipt offline and needs no daemon.
//
//	wardgate status | peers | attest PEER
//	wardgate reports list|show ID|export [--since 24h] [--format json|csv] [--peer P] [--verdict pass|fail]
//	wardgate ledger status|checkpoints
//	wardgate verify --receipt FILE [--record FILE] [--rpc URL]
//	wardgate firmware show|verify MANIFEST [--signature F --vendor-key F]
//
// Every verb takes --json. Errors go to stderr and the exit code is non-zero.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code: 0 on success,
// 1 on any failure (with the reason on stderr), 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRoot(getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "wardgate: %v\n", err)
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// usageError marks a mistake on the command line.
type usageError struct{ error }
