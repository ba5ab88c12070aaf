package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/records/consent"
)

// consentsCmd is the privacy officer's view of the consent gate. It reads
// the consents the box keeps in its state dir (so it runs on the box, as a
// user who may read that dir), not through the daemon: the store is on disk
// before the daemon acknowledges a change.
func (a *app) consentsCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "consents",
		Short: "List, show and check the patient consents the box enforces",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	cmd.PersistentFlags().StringVar(&cfgPath, "config", config.DefaultPath, "path of wardgate.yaml (for the state dir and peers' organisations)")
	var chk struct{ patient, peer, purpose, class string }
	check := &cobra.Command{
		Use:   "check --patient P --peer B [--purpose TREAT] [--class PSY]",
		Short: "Decide whether a record about patient P may go to peer B, and why",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.consentsCheck(cmd, cfgPath, chk.patient, chk.peer, chk.purpose, chk.class)
		},
	}
	f := check.Flags()
	f.StringVar(&chk.patient, "patient", "", "patient identifier (FHIR Patient id or PID-3)")
	f.StringVar(&chk.peer, "peer", "", "receiving peer (box name)")
	f.StringVar(&chk.purpose, "purpose", "", "purpose of use (default: records.purpose)")
	f.StringVar(&chk.class, "class", "", "a data class the record holds (security label, e.g. PSY)")
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List consents on file: id, version, status and salted patient hash",
		Args:  exactArgs(),
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.consentsList(cmd, cfgPath) },
	}, &cobra.Command{
		Use:   "show ID",
		Short: "Print a consent exactly as posted (the bytes `wardgate verify --consent` checks)",
		Args:  exactArgs("ID"),
		RunE:  func(cmd *cobra.Command, args []string) error { return consentsShow(cmd, cfgPath, args[0]) },
	}, check)
	return cmd
}

// openGate reads the config (without checking the files it names: the
// consent commands need only the state dir and the peers) and opens the
// box's consent gate.
func openGate(path string) (*config.Config, *consent.Gate, error) {
	data, err := readBounded(path, config.MaxFileSize)
	if err != nil {
		return nil, nil, fmt.Errorf("--config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--config: %w", err)
	}
	c, err := config.Parse(data, filepath.Dir(abs))
	if err != nil {
		return nil, nil, err
	}
	g, err := c.ConsentGate()
	return c, g, err
}

type consentRow struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	Status      string `json:"status"`
	PatientHash string `json:"patient_hash"`
	Digest      string `json:"digest"`
}

func (a *app) consentsList(cmd *cobra.Command, cfgPath string) error {
	_, g, err := openGate(cfgPath)
	if err != nil {
		return err
	}
	var rows []consentRow
	for _, c := range g.Store.List() {
		rows = append(rows, consentRow{ID: c.ID, Version: c.Version, Status: string(c.Status),
			PatientHash: g.Hasher.Hash(c.Patient).String(), Digest: fmt.Sprintf("%x", c.Digest)})
	}
	w := cmd.OutOrStdout()
	if a.json {
		return printJSON(w, rows)
	}
	t := newTable(w)
	fmt.Fprintln(t, "ID\tVERSION\tSTATUS\tPATIENT HASH")
	for _, r := range rows {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", r.ID, r.Version, r.Status, short(r.PatientHash, 16))
	}
	return t.Flush()
}

func consentsShow(cmd *cobra.Command, cfgPath, id string) error {
	_, g, err := openGate(cfgPath)
	if err != nil {
		return err
	}
	raw, err := g.Store.Raw(id)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(raw)
	return err
}

type checkResult struct {
	Decision string `json:"decision"` // release or refuse
	Reason   string `json:"reason,omitempty"`
	Consent  string `json:"consent,omitempty"`
	Version  string `json:"version,omitempty"`
}

func (a *app) consentsCheck(cmd *cobra.Command, cfgPath, patient, peer, purpose, class string) error {
	if patient == "" || peer == "" {
		return usageError{errors.New("consents check needs --patient and --peer")}
	}
	cfg, g, err := openGate(cfgPath)
	if err != nil {
		return err
	}
	if _, ok := g.Orgs[peer]; !ok {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: peer %q has no organization in %s; no consent can name it\n", peer, cfgPath)
	}
	var classes []string
	if class != "" {
		classes = []string{class}
	}
	if purpose == "" {
		purpose = cfg.Records.Purpose
	}
	d := g.CheckPatient(patient, peer, purpose, classes, time.Now())
	res := checkResult{Decision: "refuse", Reason: string(d.Reason)}
	if d.Permit {
		res = checkResult{Decision: "release"}
	}
	if d.Consent != nil {
		res.Consent, res.Version = d.Consent.ID, d.Consent.Version
	}
	w := cmd.OutOrStdout()
	if a.json {
		return printJSON(w, res)
	}
	switch {
	case d.Permit:
		fmt.Fprintf(w, "release: consent %s (version %s) permits %s for %s\n", res.Consent, res.Version, peer, purpose)
	case d.Consent != nil:
		fmt.Fprintf(w, "refuse: %s (consent %s, version %s)\n", res.Reason, res.Consent, res.Version)
	default:
		fmt.Fprintf(w, "refuse: %s\n", res.Reason)
	}
	return nil
}
