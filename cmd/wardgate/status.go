package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
)

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the box, its TPM, its last self-check, the chain and the log",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if a.json {
				return printJSON(w, st)
			}
			now := a.now()
			t := newTable(w)
			ready := "ready"
			if !st.Ready {
				ready = "starting"
			}
			fmt.Fprintf(t, "box:\t%s (%s)\n", st.Box, ready)
			fmt.Fprintf(t, "  tpm:\t%s\n", orDash(st.TPMKind))
			fmt.Fprintf(t, "  ek:\t%s\n", orDash(st.EKFingerprint))
			fmt.Fprintf(t, "  public key:\t%s\n", orDash(st.WireGuardKey))
			if st.ListenPort != 0 {
				fmt.Fprintf(t, "  listening port:\t%d\n", st.ListenPort)
			}
			if st.TunnelAddress != "" {
				fmt.Fprintf(t, "  address:\t%s\n", st.TunnelAddress)
			}
			sc := "never ran"
			if !st.SelfCheck.Time.IsZero() {
				sc = fmt.Sprintf("%s (%s)", verdictWord(st.SelfCheck.Pass), ago(now, st.SelfCheck.Time))
			}
			fmt.Fprintf(t, "  self-check:\t%s\n", sc)
			fmt.Fprintf(t, "  chain height:\t%s\n", height(st.ChainHeight))
			fmt.Fprintf(t, "  log size:\t%d entries\n", st.LogSize)
			fmt.Fprintf(t, "  last anchored:\t%s\n", checkpointLine(now, st.LastAnchored))
			if err := t.Flush(); err != nil {
				return err
			}
			printReasons(w, "    ", st.SelfCheck.Reasons)
			return printDelivery(w, now, st.Delivery)
		},
	}
}

// printDelivery prints each delivery route's endpoint and its health.
func printDelivery(w io.Writer, now time.Time, eps []control.DeliveryEndpoint) error {
	if len(eps) == 0 {
		return nil
	}
	fmt.Fprintln(w, "delivery:")
	t := newTable(w)
	fmt.Fprintln(t, "  ROUTE	ENDPOINT	STATE	IN FLIGHT	DELIVERED	FAILED	LAST SUCCESS	LAST ERROR")
	for _, e := range eps {
		last := "-"
		if !e.LastSuccess.IsZero() {
			last = ago(now, e.LastSuccess)
		}
		lerr := "-"
		if e.LastError != "" {
			lerr = fmt.Sprintf("%s (%s)", e.LastError, ago(now, e.LastErrorAt))
		}
		fmt.Fprintf(t, "  %s	%s	%s	%d	%d	%d	%s	%s\n", e.Route, e.Endpoint, e.State, e.InFlight, e.Delivered, e.Failed, last, lerr)
	}
	return t.Flush()
}

func verdictWord(pass bool) string {
	if pass {
		return control.VerdictPass
	}
	return control.VerdictFail
}

func height(h uint64) string {
	if h == 0 {
		return "- (no chain or not reachable)"
	}
	return fmt.Sprint(h)
}

func checkpointLine(now time.Time, c *control.CheckpointInfo) string {
	if c == nil {
		return "none yet"
	}
	s := fmt.Sprintf("size %d, root %s", c.Size, short(c.Root, 16))
	if c.Anchored {
		s += fmt.Sprintf(", block %d, tx %s", c.Block, short(c.TxHash, 18))
	}
	if !c.Time.IsZero() {
		s += fmt.Sprintf(" (%s)", ago(now, c.Time))
	}
	return s
}
