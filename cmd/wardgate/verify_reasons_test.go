package main

import (
	"fmt"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
)

// TestRefusalCodeReorgedAnchor: a receipt whose anchor block a reorg took
// away is named anchor_reorged (fetch the receipt again), not the generic
// root_not_on_chain, though the error is both.
func TestRefusalCodeReorgedAnchor(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("verify: %w: block 12 is 0xab", proof.ErrAnchorReorged): "anchor_reorged",
		fmt.Errorf("verify: %w: no event", proof.ErrRootNotOnChain):        "root_not_on_chain",
	} {
		if got := refusalCode(err); got != want {
			t.Errorf("refusalCode(%v) = %s, want %s", err, got, want)
		}
	}
}
