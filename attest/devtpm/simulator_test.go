package devtpm_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardgate/wardgate/attest/devtpm"
)

func TestSimulatorKeepsEKAcrossRestart(t *testing.T) {
	ca := mustCA(t)
	d := dir(t, "box")
	tp, a := openSim(t, d, ca)
	fp := a.EKFingerprint()
	id, _ := a.Identity(testCtx)

	// The attester found the dev-CA certificate in the EK NV index.
	cert, err := x509.ParseCertificate(id.EKCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Roots(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("EK certificate does not chain to the dev CA: %v", err)
	}
	if _, err := devtpm.OpenSimulator(dir(t, "other")); err == nil {
		t.Fatal("a second simulator opened in the same process")
	}
	a.Close()
	tp.Close()

	// Same state directory: same EK, certificate restored, no re-provisioning.
	tp, a2 := openSim(t, d, nil)
	if got := a2.EKFingerprint(); got != fp {
		t.Fatalf("EK after restart = %s, want %s", got, fp)
	}
	id2, _ := a2.Identity(testCtx)
	if !bytes.Equal(id.EKCert, id2.EKCert) || !bytes.Equal(id.AK.Public, id2.AK.Public) {
		t.Fatal("EK certificate or AK changed across restart")
	}
	a2.Close()
	tp.Close()

	// Another state directory is another TPM.
	_, a3 := openSim(t, dir(t, "box3"), ca)
	if a3.EKFingerprint() == fp {
		t.Fatal("two seeds gave the same EK")
	}
}

func TestSimulatorRejectsCorruptSeed(t *testing.T) {
	d := dir(t, "box")
	os.MkdirAll(d, 0o700)
	os.WriteFile(filepath.Join(d, "tpm-seed"), []byte("not a seed"), 0o600)
	if _, err := devtpm.OpenSimulator(d); err == nil {
		t.Fatal("opened a simulator from a corrupt seed file")
	}
	if _, err := devtpm.OpenSimulator(""); err == nil {
		t.Fatal("opened a simulator without a state directory")
	}
}

func TestDevCAReload(t *testing.T) {
	d := dir(t, "ca")
	a, err := devtpm.NewDevCA(d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := devtpm.NewDevCA(d)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Certificate().Equal(b.Certificate()) {
		t.Fatal("dev CA changed on reload")
	}
	os.Remove(filepath.Join(d, "ca-key.pem"))
	if _, err := devtpm.NewDevCA(d); err == nil {
		t.Fatal("NewDevCA accepted a CA without its key")
	}
}
