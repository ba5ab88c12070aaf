package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) firmwareCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "firmware",
		Short: "The box's measured boot components against its approved manifests",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(a.firmwareShowCmd(), a.firmwareVerifyCmd(), a.firmwareReproduceCmd())
	return cmd
}

func (a *app) firmwareShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "List measured components and the approved manifest each matches",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			fi, err := c.Firmware(ctx)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if a.json {
				return printJSON(w, fi)
			}
			t := newTable(w)
			fmt.Fprintln(t, "MANIFEST\tVERSION\tCOMPONENTS\tFILE")
			for _, m := range fi.Manifests {
				fmt.Fprintf(t, "%s\t%s\t%d\t%s\n", m.Vendor, m.Version, m.Components, orDash(m.Path))
			}
			fmt.Fprintln(t)
			fmt.Fprintln(t, "COMPONENT\tVERSION\tPCR\tDIGEST\tMATCHES")
			for _, c := range fi.Components {
				m := "NOT IN ANY MANIFEST"
				if c.Matched {
					m = orDash(c.Manifest)
				}
				fmt.Fprintf(t, "%s\t%s\t%d\t%s\t%s\n", c.Name, orDash(c.Version), c.PCR, short(c.Digest, 16), m)
			}
			if err := t.Flush(); err != nil {
				return err
			}
			if !fi.Pass {
				return fmt.Errorf("firmware: measured components do not all match an approved manifest")
			}
			return nil
		},
	}
}
