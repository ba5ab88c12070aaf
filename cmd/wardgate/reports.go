package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
)

// filterFlags are shared by `reports list` and `reports export`.
type filterFlags struct {
	peer, verdict, since string
}

func (f *filterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.peer, "peer", "", "only reports about this peer")
	cmd.Flags().StringVar(&f.verdict, "verdict", "", "only reports with this verdict: pass or fail")
	cmd.Flags().StringVar(&f.since, "since", "", "only reports newer than this: a duration back from now (24h, 7d) or an RFC 3339 time")
}

func (f *filterFlags) filter(now time.Time) (control.ReportFilter, error) {
	rf := control.ReportFilter{Peer: f.peer, Verdict: f.verdict}
	if f.since != "" {
		t, err := control.ParseSince(f.since, now)
		if err != nil {
			return rf, usageError{fmt.Errorf("--since: %w", err)}
		}
		rf.Since = t
	}
	if err := rf.Validate(); err != nil {
		return rf, usageError{fmt.Errorf("--verdict: %q is not pass or fail", f.verdict)}
	}
	return rf, nil
}

func (a *app) reportsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reports",
		Short: "List, show and export signed attestation reports",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(a.reportsListCmd(), a.reportsShowCmd(), a.reportsExportCmd(), a.reportsVerifyCmd())
	return cmd
}

func (a *app) reportsListCmd() *cobra.Command {
	var ff filterFlags
	var limit, offset int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List attestation reports, newest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter(a.now())
			if err != nil {
				return err
			}
			f.Limit, f.Offset = limit, offset
			if err := f.Validate(); err != nil {
				return usageError{fmt.Errorf("--limit/--offset: %w", err)}
			}
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			rs, err := c.Reports(ctx, f)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if a.json {
				return printJSON(w, rs)
			}
			if len(rs) == 0 {
				fmt.Fprintln(w, "no reports match")
				return nil
			}
			now := a.now()
			t := newTable(w)
			fmt.Fprintln(t, "ID\tTIME\tPEER\tVERDICT\tEXPIRES\tREASONS")
			for _, r := range rs {
				exp := "-"
				if r.Verdict == control.VerdictPass {
					exp = until(now, r.Expiry)
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Time.Local().Format(time.DateTime), r.Peer, r.Verdict, exp, orDash(reasonCodes(r.Reasons)))
			}
			if err := t.Flush(); err != nil {
				return err
			}
			if len(rs) == f.Limit {
				fmt.Fprintf(w, "(first %d shown; --offset %d for more, or `wardgate reports export`)\n", len(rs), f.Offset+len(rs))
			}
			return nil
		},
	}
	ff.add(cmd)
	cmd.Flags().IntVar(&limit, "limit", 50, fmt.Sprintf("at most this many reports (1..%d)", control.MaxLimit))
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many matching reports")
	return cmd
}

func (a *app) reportsShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Print one signed report (--json: the exact signed bytes)",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			doc, err := c.Report(ctx, args[0])
			if err != nil {
				return fmt.Errorf("report %s: %w", args[0], err)
			}
			w := cmd.OutOrStdout()
			if a.json {
				// Verbatim: the signature covers these bytes.
				if _, err := w.Write(doc); err != nil {
					return err
				}
				if !bytes.HasSuffix(doc, []byte("\n")) {
					_, err = io.WriteString(w, "\n")
				}
				return err
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, doc, "", "  "); err != nil {
				return fmt.Errorf("report %s is not JSON: %w", args[0], err)
			}
			buf.WriteByte('\n')
			_, err = buf.WriteTo(w)
			return err
		},
	}
}

func (a *app) reportsExportCmd() *cobra.Command {
	var ff filterFlags
	var format, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export matching reports: json (the signed documents, verifiable) or csv (one summary row each)",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter(a.now())
			if err != nil {
				return err
			}
			if a.json {
				format = "json"
			}
			if format != "json" && format != "csv" {
				return usageError{fmt.Errorf("--format %q: use json or csv", format)}
			}
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			w := cmd.OutOrStdout()
			var file *os.File
			if out != "" && out != "-" {
				// Written next to the target and renamed, so a failed export
				// never leaves a truncated file that looks complete.
				file, err = os.CreateTemp(dirOf(out), ".wardgate-export-*")
				if err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				defer os.Remove(file.Name())
				defer file.Close()
				w = file
			}
			bw := bufio.NewWriter(w)
			n, err := exportReports(ctx, c, f, format, bw)
			if err == nil {
				err = bw.Flush()
			}
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				if err := os.Rename(file.Name(), out); err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d reports to %s\n", n, out)
			}
			return nil
		},
	}
	ff.add(cmd)
	cmd.Flags().StringVar(&format, "format", "json", "json or csv")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return "."
}

// exportReports pages through every matching report. JSON output is an
// array of the signed documents, each written byte for byte as signed so
// that attest.VerifyReport accepts it.
func exportReports(ctx context.Context, c *control.Client, f control.ReportFilter, format string, w io.Writer) (int, error) {
	f.Limit, f.Offset, f.After = control.MaxLimit, 0, ""
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(w)
		cw.Write([]string{"id", "time", "verifier", "peer", "verdict", "expiry", "policy_version", "reasons"})
	} else {
		io.WriteString(w, "[")
	}
	n := 0
	for {
		page, err := c.Reports(ctx, f)
		if err != nil {
			return n, err
		}
		for _, r := range page {
			if cw != nil {
				reasons := make([]string, len(r.Reasons))
				for i, x := range r.Reasons {
					reasons[i] = x.Code + ": " + x.Message
				}
				cw.Write([]string{r.ID, r.Time.UTC().Format(time.RFC3339Nano), r.Verifier, r.Peer, r.Verdict,
					r.Expiry.UTC().Format(time.RFC3339Nano), r.PolicyVersion, strings.Join(reasons, "; ")})
			} else {
				doc, err := c.Report(ctx, r.ID)
				if err != nil {
					return n, fmt.Errorf("report %s: %w", r.ID, err)
				}
				if !json.Valid(doc) {
					return n, fmt.Errorf("report %s from the daemon is not valid JSON", r.ID)
				}
				if n > 0 {
					io.WriteString(w, ",")
				}
				io.WriteString(w, "\n")
				if _, err := w.Write(bytes.TrimSpace(doc)); err != nil {
					return n, err
				}
			}
			n++
		}
		if len(page) < f.Limit {
			break
		}
		// Keyset paging: reports appraised meanwhile do not shift the pages.
		f.After = page[len(page)-1].ID
	}
	if cw != nil {
		cw.Flush()
		return n, cw.Error()
	}
	_, err := io.WriteString(w, "\n]\n")
	return n, err
}
