package attest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wardgate/wardgate/attest"
)

func TestLoadRoots(t *testing.T) {
	roots := dir(t, "roots")
	os.MkdirAll(roots, 0o755)
	if _, err := attest.LoadRoots(roots); err == nil {
		t.Fatal("LoadRoots accepted an empty directory")
	}
	os.WriteFile(filepath.Join(roots, "acme.pem"), mustCA(t).CertPEM(), 0o644)
	if _, err := attest.LoadRoots(roots); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(roots, "junk.pem"), []byte("not PEM"), 0o644)
	if _, err := attest.LoadRoots(roots); err == nil {
		t.Fatal("LoadRoots accepted a .pem file without a certificate")
	}
}
