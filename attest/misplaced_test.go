package attest_test

import (
	"strings"
	"testing"

	"github.com/wardgate/wardgate/attest"
)

// A box whose boot measures the approved kernel image into PCR 9 instead of
// the PCR 8 its manifest names is refused: an approved digest vouches for
// a component only where its manifest says it is measured. (A component
// moved to another PCR is loaded at another stage of the boot, where the
// manifest never approved it.) Real simulated TPM, real quote and log.
func TestComponentMeasuredIntoWrongPCRRefused(t *testing.T) {
	ca := mustCA(t)
	good := goodComponents()
	m := signedManifest(t, manifestFor("2026.11", good...))
	moved := good[2]
	if moved.Name != "kernel" || moved.PCR != 8 {
		t.Fatalf("fixture changed: component 2 is %s in PCR %d", moved.Name, moved.PCR)
	}
	moved.PCR = 9
	b := openBox(t, dir(t, "b"), ca, withComponent(good, moved), attest.AttesterConfig{})
	defer b.close()
	v := newVerifier(t, ca, map[string]string{peer: b.att.EKFingerprint()}, nil, m)
	enroll(t, v, b, peer)
	wg, rk := keys()

	vd, r := appraise(t, v, peer, evidence(t, v, b, peer, wg, rk), wg, rk)
	wantRefused(t, vd, r, attest.ReasonComponentUnapproved)
	if msg := vd.Reasons()[0].Message; !strings.Contains(msg, "PCR 9") {
		t.Fatalf("reason does not name the PCR the kernel was measured into: %q", msg)
	}
	for _, c := range r.Components {
		if c.PCR == 9 && c.Matched && c.Name == "kernel" {
			t.Fatalf("kernel measured into PCR 9 reported as approved: %+v", c)
		}
	}
}
