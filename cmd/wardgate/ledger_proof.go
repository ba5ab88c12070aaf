package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/atomicfile"
)

// ledgerProofCmd is `wardgate ledger proof DIGEST`: the record's entry as
// a c2sp.org/tlog-proof file, for C2SP tools.
func (a *app) ledgerProofCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "proof DIGEST",
		Short: "Export a record's inclusion proof as a C2SP tlog-proof file (with the cosigned checkpoint)",
		Long: `proof asks wardgated for the c2sp.org/tlog-proof@v1 of the entry with
this record digest (SHA-256, hex): the leaf index, the inclusion proof and the
checkpoint as a C2SP signed note with the peers' witness cosignatures. The
signed entry is the "extra" data: its RFC 6962 leaf hash is the leaf.`,
		Args: exactArgs("DIGEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := control.ParseDigest(args[0])
			if err != nil {
				return usageError{err}
			}
			c, ctx, cancel := a.client(cmd)
			defer cancel()
			p, err := c.LedgerProof(ctx, d)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(p)
				return err
			}
			if err := atomicfile.Write(out, p, 0o644); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the proof to this file (default: stdout)")
	return cmd
}
