package devtpm_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/firmware"
)

var testCtx = context.Background()

func dir(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }

func mustCA(t testing.TB) *devtpm.DevCA {
	t.Helper()
	ca, err := devtpm.NewDevCA(dir(t, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// boot provisions tp's EK with ca (nil keeps the certificate it has), plays
// attesttest's boot into it and returns an attester and the event log.
func boot(t testing.TB, tp attest.TPM, ca *devtpm.DevCA, stateDir string) (*attest.Attester, []byte) {
	t.Helper()
	if ca != nil {
		if err := ca.ProvisionEK(testCtx, tp); err != nil {
			t.Fatal(err)
		}
	}
	log, err := firmware.Boot(testCtx, tp, attesttest.Components())
	if err != nil {
		t.Fatal(err)
	}
	a, err := attest.NewAttester(testCtx, tp, attest.AttesterConfig{StateDir: stateDir, EventLog: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, log
}

// openSim opens the simulator in stateDir and boots it.
func openSim(t testing.TB, stateDir string, ca *devtpm.DevCA) (attest.TPM, *attest.Attester) {
	t.Helper()
	tp, err := devtpm.OpenSimulator(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	a, _ := boot(t, tp, ca, stateDir)
	return tp, a
}

// verifier trusts ca, enrolls a as peer and approves attesttest's boot.
func verifier(t testing.TB, ca *devtpm.DevCA, peer string, a *attest.Attester) *attest.Verifier {
	t.Helper()
	_, vendor, _ := ed25519.GenerateKey(rand.Reader)
	m, err := attesttest.SignedManifest(vendor, "1", attesttest.Components())
	if err != nil {
		t.Fatal(err)
	}
	_, rk, _ := ed25519.GenerateKey(rand.Reader)
	v, err := attest.NewVerifier(attest.VerifierConfig{
		Name: "hospital-a", Roots: ca.Roots(), Enrollment: map[string]string{peer: a.EKFingerprint()},
		Manifests: []*firmware.Manifest{m}, ReportKey: rk, VerdictLifetime: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func keys() ([32]byte, ed25519.PublicKey) {
	var wg [32]byte
	rand.Read(wg[:])
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return wg, pub
}
