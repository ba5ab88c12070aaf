package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
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
	})
	return cmd
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
