// Command wardgated is the wardgate appliance daemon: it boots (or reads)
// the measured state of the box, attests itself to its peers and appraises
// them in turn over HTTPS, admits peers into the WireGuard tunnel only on
// passing verdicts, relays records through the tunnel, logs every report,
// admission, revocation and record in the ledger, and serves the local
// control socket, the security team's report API and metrics.
//
// Usage:
//
//	wardgated --config /etc/wardgate/wardgate.yaml
//	wardgated --config FILE --check-config   # validate and exit 0/1
//	wardgated --config FILE --identity       # print EK identity and measurements (JSON) and exit
//	wardgated --dev-consortium DIR [--boxes a,b,c] [--tamper c] [--tunnel userspace|tun] [--hosts ...] [--base-port N]
//	                                         # write a complete development consortium (configs, CA, manifest)
//
// The daemon starts completely or not at all: any failure while starting
// closes what was opened and exits non-zero. It logs `msg=ready` once the
// control socket answers `wardgate status`, and shuts down cleanly on SIGTERM
// or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/wardgate/wardgate/gateway"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/internal/devconsortium"
	"github.com/wardgate/wardgate/records"
)

func main() {
	tuneGC()
	stop := cpuProfile()
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cpuProfile writes a CPU profile of the whole run to
// $WARDGATE_CPUPROFILE.<pid>, for studying one box under a benchmark (go
// tool pprof FILE). It is complete when wardgated exits cleanly.
func cpuProfile() (stop func()) {
	path := os.Getenv("WARDGATE_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "wardgated: WARDGATE_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// tuneGC trades memory for CPU: the record path allocates per record, and
// at the default GOGC=100 the collector takes a fifth of a busy box's two
// cores. The box is an appliance with memory to spare, so collect at 400%
// growth, bounded by a 1 GiB soft limit. GOGC and GOMEMLIMIT in the
// environment (the systemd unit's Environment=) override both.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "--dev-consortium" || a == "-dev-consortium" || strings.HasPrefix(a, "--dev-consortium=") {
			return devconsortium.Main(args, stdout, stderr)
		}
	}
	f, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	switch {
	case f.check:
		return checkConfig(f.config, stdout, stderr)
	case f.identity:
		return printIdentity(f.config, stdout, stderr)
	}
	return serve(f.config, stderr)
}

// flags are wardgated's command line.
type flags struct {
	config          string
	check, identity bool
}

// parseFlags returns the flags, or an exit code >= 0 if it already failed.
func parseFlags(args []string, stderr io.Writer) (flags, int) {
	var f flags
	fs := flag.NewFlagSet("wardgated", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", config.DefaultPath, "path of wardgate.yaml")
	fs.BoolVar(&f.check, "check-config", false, "validate the config (and the files it names) and exit: 0 if valid, 1 with every error otherwise")
	fs.BoolVar(&f.identity, "identity", false, "print this box's EK identity and boot measurements as JSON and exit (for peers' enrollment and manifests)")
	if err := fs.Parse(args); err != nil {
		return f, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wardgated: unexpected arguments %q\n", fs.Args())
		return f, 2
	}
	return f, -1
}

// checkConfig is --check-config: every error, by key, and exit 1; or ok.
func checkConfig(path string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "%s: WARNING: %s\n", path, w)
	}
	for _, w := range append(cfg.RouteWarnings(), probeDelivery(cfg)...) {
		fmt.Fprintf(stderr, "%s: WARNING: %s\n", path, w)
	}
	fmt.Fprintf(stdout, "%s: ok (box %s, %d peers)\n", path, cfg.Box, len(cfg.Peers))
	return 0
}

// probeDelivery tries each delivery route's endpoint from this box: an
// unreachable one is a warning (it may be down for maintenance).
func probeDelivery(cfg *config.Config) []string {
	routes, err := gateway.DeliveryRoutes(cfg)
	if err != nil {
		return []string{err.Error()}
	}
	if len(routes) == 0 {
		r := cfg.Records
		routes = records.Delivery{HTTPURL: r.DeliverURL, MLLPAddr: r.DeliverMLLP}.Routes()
	}
	return records.Probe(context.Background(), routes)
}

// printIdentity is --identity. It needs only the box, its TPM and its
// image; peers may not be known yet (their EKs are what this prints).
func printIdentity(path string, stdout, stderr io.Writer) int {
	cfg, err := config.LoadPartial(path)
	if err != nil {
		return notStarting(path, err, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	id, err := gateway.PrintIdentity(ctx, cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "wardgated: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(id); err != nil {
		fmt.Fprintf(stderr, "wardgated: %v\n", err)
		return 1
	}
	return 0
}

// serve runs the box until SIGTERM or SIGINT, or until a server fails.
func serve(path string, stderr io.Writer) int {
	cfg, err := config.Load(path)
	if err != nil {
		return notStarting(path, err, stderr)
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := gateway.Start(ctx, cfg, log)
	if err != nil {
		log.Error("not starting", "err", err)
		return 1
	}
	err = d.Wait(ctx)
	d.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func notStarting(path string, err error, stderr io.Writer) int {
	fmt.Fprintf(stderr, "wardgated: %s: %v\nwardgated: not starting; fix the config (check with --check-config)\n", path, err)
	return 1
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	switch c.Level {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
