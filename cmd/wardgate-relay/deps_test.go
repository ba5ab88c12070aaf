package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The relay only forwards ciphertext: it must not link the code that
// parses evidence, records or the ledger, nor a TPM, nor a chain node. A
// relay that cannot parse them is one more reason it cannot read them.
var bannedFromRelay = []string{
	"github.com/wardgate/wardgate/attest",
	"github.com/wardgate/wardgate/records",
	"github.com/wardgate/wardgate/ledger",
	"github.com/wardgate/wardgate/tunnel",
	"github.com/wardgate/wardgate/gateway",
	"github.com/google/go-tpm",
	"github.com/ethereum/go-ethereum",
}

func TestRelayLinksNoRecordsNoEvidence(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range bannedFromRelay {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("wardgate-relay links %s", pkg)
			}
		}
	}
}
