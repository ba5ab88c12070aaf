// Command wardgate-relay is the NAT relay: boxes behind hospital NAT keep
// one outbound TLS connection to it, and it forwards their WireGuard
// packets and attestation streams by destination box. It stores nothing
// and sees only ciphertext; see relay/ and docs/operations.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/wardgate/wardgate/relay"
)

func main() {
	var o relay.Options
	var allow string
	flag.StringVar(&o.Listen, "listen", ":443", "host:port the boxes connect to")
	flag.StringVar(&o.Cert, "cert", "", "the relay's TLS certificate (PEM)")
	flag.StringVar(&o.Key, "key", "", "the relay's TLS key (PEM)")
	flag.StringVar(&o.CA, "ca", "", "the consortium's relay CA, which issues the boxes' enrollment certificates (PEM)")
	flag.StringVar(&allow, "allow", "", "comma-separated names of the consortium's boxes")
	flag.StringVar(&o.Metrics, "metrics", "", "host:port for Prometheus metrics (empty: off)")
	flag.Parse()
	if allow != "" {
		o.Allowed = strings.Split(allow, ",")
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := relay.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "wardgate-relay:", err)
		os.Exit(1)
	}
}
