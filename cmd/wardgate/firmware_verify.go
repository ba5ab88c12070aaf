package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// firmwareVerifyCmd is filled in once firmware/ lands.
func (a *app) firmwareVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify MANIFEST",
		Short: "Verify a manifest's signature and the box's measured components against it",
		Args:  exactArgs("MANIFEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("firmware verify: not implemented yet")
		},
	}
}
