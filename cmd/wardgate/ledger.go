package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/ledger/check"
)

func (a *app) ledgerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Show the record log and its anchoring on chain",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Log size, checkpoints, anchoring backlog and the chain connection",
		Args:  exactArgs(),
		RunE:  a.ledgerStatus,
	}, &cobra.Command{
		Use:   "checkpoints",
		Short: "List signed checkpoints and where each is anchored",
		Args:  exactArgs(),
		RunE:  a.ledgerCheckpoints,
	}, a.ledgerCheckCmd(), a.ledgerProofCmd())
	return cmd
}

// errLedgerDamaged makes `wardgate ledger check` exit non-zero on findings.
var errLedgerDamaged = errors.New("ledger check found damage")

func (a *app) ledgerCheckCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "check --state-dir DIR",
		Short: "Verify a stopped box's state dir offline: WAL, journal, signatures, tree against checkpoints and anchors",
		Long: `Reads the state dir without changing it and without wardgated (stop the
daemon first: bbolt is locked while it runs). Checks that the write-ahead log
has a bad record only as a torn tail of its newest file, that the WAL agrees
with bbolt, that entries have no gaps and carry the record key's signature,
that checkpoints are signed, and that the Merkle tree rebuilt from the entries
has every stored checkpoint's and anchor's root. Exits 0 with a summary, or 1
listing each finding with a code.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.ledgerCheck(cmd, dir) },
	}
	cmd.Flags().StringVar(&dir, "state-dir", "", "the box's state dir (ledger.state_dir in the config), e.g. /var/lib/wardgate")
	cmd.MarkFlagRequired("state-dir")
	return cmd
}

func (a *app) ledgerCheck(cmd *cobra.Command, dir string) error {
	r, err := check.Dir(dir)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if a.json {
		if err := printJSON(w, r); err != nil {
			return err
		}
	} else {
		printCheck(w, r)
	}
	if !r.OK() {
		return fmt.Errorf("%w: %d finding(s) in %s", errLedgerDamaged, len(r.Findings), dir)
	}
	return nil
}

func printCheck(w io.Writer, r *check.Report) {
	t := newTable(w)
	fmt.Fprintf(t, "state dir:\t%s\n", r.Dir)
	fmt.Fprintf(t, "log:\t%s\n", orDash(r.Box))
	fmt.Fprintf(t, "entries:\t%d (%d in %d write-ahead log file(s), not yet applied)\n", r.Entries, r.WALRecords, r.WALFiles)
	if r.TornBytes > 0 {
		fmt.Fprintf(t, "torn tail:\t%d bytes of an unacknowledged write, dropped at the next open\n", r.TornBytes)
	}
	fmt.Fprintf(t, "checkpoints:\t%d\n", r.Checkpoints)
	fmt.Fprintf(t, "anchors:\t%d\n", r.Anchors)
	if r.OK() {
		fmt.Fprintf(t, "result:\tOK\n")
	} else {
		fmt.Fprintf(t, "result:\t%d finding(s)\n", len(r.Findings))
	}
	t.Flush()
	for _, f := range r.Findings {
		fmt.Fprintf(w, "FINDING %s: %s\n", f.Code, f.Detail)
	}
}

func (a *app) ledgerStatus(cmd *cobra.Command, _ []string) error {
	c, ctx, cancel := a.client(cmd)
	defer cancel()
	li, err := c.LedgerStatus(ctx)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if a.json {
		return printJSON(w, li)
	}
	t := newTable(w)
	printLog(t, a.now(), li)
	printChain(t, li)
	return t.Flush()
}

// printLog is the log half of `ledger status`: size, checkpoints, backlog.
func printLog(t io.Writer, now time.Time, li control.LedgerInfo) {
	fmt.Fprintf(t, "log:\t%s\n", li.Box)
	fmt.Fprintf(t, "  size:\t%d entries\n", li.Size)
	fmt.Fprintf(t, "  checkpoints:\t%d signed, %d anchored\n", li.Checkpoints, li.AnchoredCheckpoints)
	fmt.Fprintf(t, "  last checkpoint:\t%s\n", checkpointLine(now, li.LastCheckpoint))
	fmt.Fprintf(t, "  last anchored:\t%s\n", checkpointLine(now, li.LastAnchored))
	fmt.Fprintf(t, "  backlog:\t%d entries not yet anchored\n", li.Backlog)
	if li.RecordKey != "" {
		fmt.Fprintf(t, "  record key:\t%s\n", li.RecordKey)
	}
	if li.JournalError != "" {
		fmt.Fprintf(t, "  journal error:\t%s\n", li.JournalError)
	}
}

// printChain is the chain half of `ledger status`: where the box anchors
// and whether it can reach the chain.
func printChain(t io.Writer, li control.LedgerInfo) {
	chain := "none (journal only: receipts stay pending)"
	if li.ChainMode != "" || li.ChainURL != "" {
		state := "connected"
		if !li.ChainConnected {
			state = "NOT CONNECTED"
		}
		if li.ChainStalled {
			state = "STALLED (no block sealed while an anchor waited)"
		}
		chain = fmt.Sprintf("%s %s, chain id %d, %s", orDash(li.ChainMode), orDash(li.ChainURL), li.ChainID, state)
		if li.ChainHeight != 0 {
			chain += fmt.Sprintf(", height %d", li.ChainHeight)
		}
	}
	fmt.Fprintf(t, "chain:\t%s\n", chain)
	if li.Contract != "" {
		fmt.Fprintf(t, "  contract:\t%s\n", li.Contract)
	}
	if li.Gateway != "" {
		fmt.Fprintf(t, "  gateway:\t%s\n", li.Gateway)
	}
	if li.ChainError != "" {
		fmt.Fprintf(t, "  last error:\t%s\n", li.ChainError)
	}
	for _, e := range li.Endpoints {
		fmt.Fprintf(t, "  endpoint:\t%s\n", endpointLine(e))
	}
}

// endpointLine is one chain rpc endpoint's health.
func endpointLine(e control.EndpointInfo) string {
	s := e.URL + " healthy"
	if !e.Healthy {
		s = e.URL + " UNHEALTHY"
	}
	if e.Active {
		s += ", active"
	}
	if e.Head != 0 {
		s += fmt.Sprintf(", head %d", e.Head)
	}
	if e.Error != "" {
		s += ": " + e.Error
	}
	return s
}

func (a *app) ledgerCheckpoints(cmd *cobra.Command, _ []string) error {
	c, ctx, cancel := a.client(cmd)
	defer cancel()
	cps, err := c.Checkpoints(ctx)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if a.json {
		return printJSON(w, cps)
	}
	if len(cps) == 0 {
		fmt.Fprintln(w, "no checkpoints yet")
		return nil
	}
	now := a.now()
	t := newTable(w)
	fmt.Fprintln(t, "SIZE\tROOT\tSIGNED\tANCHORED\tBLOCK\tTX")
	for _, cp := range cps {
		anch, block, tx := "no", "-", "-"
		if cp.Anchored {
			anch, block, tx = "yes", fmt.Sprint(cp.Block), short(cp.TxHash, 18)
		}
		fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\t%s\n", cp.Size, short(cp.Root, 16), when(now, cp.Time), anch, block, tx)
	}
	return t.Flush()
}
