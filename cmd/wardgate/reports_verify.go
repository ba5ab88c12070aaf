package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/attest"
)

// maxExport bounds a report file read by `reports verify`.
const maxExport = 256 << 20

type reportCheck struct {
	Index   int       `json:"index"`
	ID      string    `json:"id,omitempty"`
	Peer    string    `json:"peer,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	Verdict string    `json:"verdict,omitempty"`
	OK      bool      `json:"ok"`
	Error   string    `json:"error,omitempty"`
}

func (a *app) reportsVerifyCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify FILE --key KEY",
		Short: "Check the signatures of exported reports (an export array, or one report) offline",
		Long: `verify checks every signed report in FILE (the output of ` + "`reports export --format json`" + `
or ` + "`reports show ID --json`" + `) against the verifying box's Ed25519 key (hex,
base64 or a PEM/hex file; ` + "`wardgate ledger status`" + ` on that box prints it as
"record key"). It needs no daemon. Exits 1 if any report does not verify.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.reportsVerify(cmd, args[0], key)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the verifying box's Ed25519 public key: hex, base64, or a PEM/hex file")
	return cmd
}

// reportsVerify reads the reports in path, checks each signature under
// key, prints one line per report, and fails if any does not verify.
func (a *app) reportsVerify(cmd *cobra.Command, path, key string) error {
	if key == "" {
		return usageError{errors.New("reports verify needs --key: the verifying box's public key (`wardgate ledger status` shows it as record key)")}
	}
	pub, err := parseEd25519Key(key)
	if err != nil {
		return usageError{fmt.Errorf("--key: %w", err)}
	}
	docs, err := readReports(path)
	if err != nil {
		return err
	}
	checks, bad := checkReports(docs, pub)
	w := cmd.OutOrStdout()
	if a.json {
		if err := printJSON(w, checks); err != nil {
			return err
		}
	} else {
		printReportChecks(w, checks)
	}
	if len(docs) == 0 {
		return fmt.Errorf("%s holds no reports", path)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d reports in %s do not verify under key %x", bad, len(docs), path, []byte(pub))
	}
	return nil
}

// readReports splits an export (a JSON array) into its reports; anything
// else is taken as one report.
func readReports(path string) ([]json.RawMessage, error) {
	data, err := readBounded(path, maxExport)
	if err != nil {
		return nil, err
	}
	docs := []json.RawMessage{}
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '[' {
		return append(docs, json.RawMessage(t)), nil
	}
	if err := json.Unmarshal(t, &docs); err != nil {
		return nil, fmt.Errorf("%s is not a JSON array of reports: %w", path, err)
	}
	return docs, nil
}

// checkReports verifies each report and counts those that fail.
func checkReports(docs []json.RawMessage, pub ed25519.PublicKey) ([]reportCheck, int) {
	var checks []reportCheck
	bad := 0
	for i, d := range docs {
		c := reportCheck{Index: i}
		r, err := attest.VerifyReport(d, pub)
		if err != nil {
			c.Error = err.Error()
			bad++
		} else {
			c.OK, c.ID, c.Peer, c.Time, c.Verdict = true, r.ID, r.Peer, r.Time, verdictWord(r.Pass)
		}
		checks = append(checks, c)
	}
	return checks, bad
}

func printReportChecks(w io.Writer, checks []reportCheck) {
	t := newTable(w)
	fmt.Fprintln(t, "#\tID\tTIME\tPEER\tVERDICT\tSIGNATURE")
	for _, c := range checks {
		if c.OK {
			fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\tok\n", c.Index, c.ID, c.Time.Local().Format(time.DateTime), c.Peer, c.Verdict)
		} else {
			fmt.Fprintf(t, "%d\t-\t-\t-\t-\tREFUSED: %s\n", c.Index, c.Error)
		}
	}
	t.Flush()
}
