package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
)

// consentsCmd is the privacy officer's view of the consent gate. It asks
// the daemon over the control socket (group wardgate), so it needs no
// access to the box's state dir, and a check gives exactly the decision
// the relay would make.
func (a *app) consentsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "consents",
		Short: "List, show and check the patient consents the box enforces",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	var q control.ConsentQuery
	check := &cobra.Command{
		Use:   "check --patient P --peer B [--purpose TREAT] [--class PSY]",
		Short: "Decide whether a record about patient P may go to peer B, and why",
		Args:  exactArgs(),
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.consentsCheck(cmd, q) },
	}
	f := check.Flags()
	f.StringVar(&q.Patient, "patient", "", "patient identifier (FHIR Patient id or PID-3)")
	f.StringVar(&q.Peer, "peer", "", "receiving peer (box name)")
	f.StringVar(&q.Purpose, "purpose", "", "purpose of use (default: the box's records.purpose)")
	f.StringVar(&q.Class, "class", "", "a data class the record holds (security label, e.g. PSY)")
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List consents on file: id, version, status and salted patient hash",
		Args:  exactArgs(),
		RunE:  a.consentsList,
	}, &cobra.Command{
		Use:   "show ID",
		Short: "Print a consent exactly as posted (the bytes `wardgate verify --consent` checks)",
		Args:  exactArgs("ID"),
		RunE:  a.consentsShow,
	}, check)
	return cmd
}

func (a *app) consentsList(cmd *cobra.Command, _ []string) error {
	c, ctx, cancel := a.client(cmd)
	defer cancel()
	rows, err := c.Consents(ctx)
	if err != nil {
		return err
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

func (a *app) consentsShow(cmd *cobra.Command, args []string) error {
	c, ctx, cancel := a.client(cmd)
	defer cancel()
	raw, err := c.Consent(ctx, args[0])
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(raw)
	return err
}

func (a *app) consentsCheck(cmd *cobra.Command, q control.ConsentQuery) error {
	if q.Patient == "" || q.Peer == "" {
		return usageError{errors.New("consents check needs --patient and --peer")}
	}
	c, ctx, cancel := a.client(cmd)
	defer cancel()
	d, err := c.CheckConsent(ctx, q)
	if err != nil {
		return err
	}
	if d.PeerOrganization == "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: peer %q has no organization in the box's config; no consent can name it\n", q.Peer)
	}
	w := cmd.OutOrStdout()
	if a.json {
		return printJSON(w, d)
	}
	switch {
	case d.Decision == "release":
		fmt.Fprintf(w, "release: consent %s (version %s) permits %s for %s\n", d.Consent, d.Version, q.Peer, d.Purpose)
	case d.Consent != "":
		fmt.Fprintf(w, "refuse: %s (consent %s, version %s)\n", d.Reason, d.Consent, d.Version)
	default:
		fmt.Fprintf(w, "refuse: %s\n", d.Reason)
	}
	return nil
}
