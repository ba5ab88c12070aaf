package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
)

// app holds the global flags.
type app struct {
	socket  string
	json    bool
	timeout time.Duration
	now     func() time.Time
}

func newRoot(getenv func(string) string) *cobra.Command {
	a := &app{now: time.Now}
	root := &cobra.Command{
		Use:           "wardgate",
		Short:         "Inspect and drive the local wardgate box",
		Long:          "wardgate inspects the local wardgate box over its control socket: its TPM, attested peers, attestation reports, the record ledger and firmware measurements. `wardgate verify` checks a record receipt offline, without the daemon.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defSocket := control.DefaultSocket
	if s := getenv("WARDGATE_SOCKET"); s != "" {
		defSocket = s
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.socket, "socket", defSocket, "control socket of wardgated (env WARDGATE_SOCKET)")
	pf.BoolVar(&a.json, "json", false, "print JSON for scripts instead of a table")
	pf.DurationVar(&a.timeout, "timeout", 60*time.Second, "give up on the daemon after this long")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(
		a.statusCmd(), a.peersCmd(), a.attestCmd(), a.reportsCmd(),
		a.ledgerCmd(), a.verifyCmd(), a.firmwareCmd(),
		a.consentsCmd(), a.chainCmd(), a.manifestCmd(), runtimePolicyCmd(), a.releaseCmd(),
	)
	return root
}

// client returns a control client and a context bounded by --timeout.
func (a *app) client(cmd *cobra.Command) (*control.Client, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
	return control.NewClient(a.socket), ctx, cancel
}

// exactArgs is cobra.ExactArgs with a usage error that names the argument.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageError{fmt.Errorf("%s takes %d argument(s) (%s), got %d (see %s --help)",
				cmd.CommandPath(), len(names), strings.Join(names, " "), len(args), cmd.CommandPath())}
		}
		return nil
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// ago renders a past time like `wg show`: "12 seconds ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < -time.Second:
		return "in " + human(-d)
	case d < time.Second:
		return "just now"
	}
	return human(d) + " ago"
}

// when is ago for a table cell, "-" for an unknown time.
func when(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return ago(now, t)
}

// until renders an expiry: "in 4m" or "expired 3m ago".
func until(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if d := t.Sub(now); d >= time.Second {
		return "in " + human(d)
	} else if d >= 0 {
		return "now"
	}
	return "expired " + human(now.Sub(t)) + " ago"
}

func human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// bytesIEC renders a byte count as `wg show` does ("1.21 MiB").
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.2f %ciB", v, "KMGTP"[i])
}

// short cuts a long key or hash for a table; --json has the full value.
func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func reasonCodes(rs []control.Reason) string {
	codes := make([]string, len(rs))
	for i, r := range rs {
		codes[i] = r.Code
	}
	return strings.Join(codes, ",")
}

func printReasons(w io.Writer, indent string, rs []control.Reason) {
	for _, r := range rs {
		fmt.Fprintf(w, "%s%s: %s\n", indent, r.Code, r.Message)
	}
}

// subcommandArgs refuses an unknown subcommand of a command group (cobra
// would otherwise print the group's help and exit 0).
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())}
	}
	return nil
}

func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }
