package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
)

func (a *app) peersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "peers",
		Short: "List peers: state, WireGuard key, endpoint, handshake, traffic, verdict",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			ps, err := c.Peers(ctx)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if a.json {
				return printJSON(w, ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(w, "no peers configured")
				return nil
			}
			now := a.now()
			t := newTable(w)
			fmt.Fprintln(t, "PEER\tSTATE\tPUBLIC KEY\tENDPOINT\tPATH\tHANDSHAKE\tRX\tTX\tVERDICT\tEXPIRES\tREPORT")
			for _, p := range ps {
				exp := "-"
				if p.Verdict != "" {
					exp = until(now, p.Expiry)
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.State, short(orDash(p.WireGuardKey), 12),
					orDash(p.Endpoint), orDash(p.Path), ago(now, p.LastHandshake), bytesIEC(p.RxBytes), bytesIEC(p.TxBytes),
					orDash(p.Verdict), exp, orDash(p.LastReportID))
			}
			if err := t.Flush(); err != nil {
				return err
			}
			// Reasons under the table, like `tailscale status` health lines.
			for _, p := range ps {
				if len(p.Reasons) > 0 {
					fmt.Fprintf(w, "\n# %s:\n", p.Name)
					printReasons(w, "  ", p.Reasons)
				}
			}
			return nil
		},
	}
}

// errAttestFailed makes `wardgate attest` exit non-zero on a failing
// verdict, so scripts can test it.
var errAttestFailed = errors.New("attestation failed")

func (a *app) attestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "attest PEER",
		Short: "Appraise PEER now and print the verdict with its reasons (exit 1 if it fails)",
		Args:  exactArgs("PEER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			r, err := c.Attest(ctx, args[0])
			if err != nil {
				return fmt.Errorf("attest %s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			if a.json {
				if err := printJSON(w, r); err != nil {
					return err
				}
			} else {
				now := a.now()
				t := newTable(w)
				fmt.Fprintf(t, "peer:\t%s\n", r.Peer)
				fmt.Fprintf(t, "  verdict:\t%s\n", r.Verdict)
				fmt.Fprintf(t, "  admitted:\t%v\n", r.Admitted)
				if r.Verdict == control.VerdictPass {
					fmt.Fprintf(t, "  expires:\t%s\n", until(now, r.Expiry))
				}
				fmt.Fprintf(t, "  report:\t%s\n", orDash(r.ReportID))
				if err := t.Flush(); err != nil {
					return err
				}
				if len(r.Reasons) > 0 {
					fmt.Fprintln(w, "  reasons:")
					printReasons(w, "    ", r.Reasons)
				}
			}
			if r.Verdict != control.VerdictPass {
				return fmt.Errorf("%w: %s: %s", errAttestFailed, r.Peer, reasonCodes(r.Reasons))
			}
			return nil
		},
	}
}
