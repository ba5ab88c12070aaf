package tunnel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/internal/testutil"
)

func userspaceConfig(dir string, s Sealer) Config {
	return Config{Name: "hosp-a", Mode: ModeUserspace, Address: netip.MustParsePrefix("10.68.0.1/32"),
		StateDir: dir, Sealer: s, Logger: testutil.EnvLogger()}
}

// TestSealedKeyPersists: the key is created once, stored only sealed, and
// the same key comes back after a restart.
func TestSealedKeyPersists(t *testing.T) {
	f := attesttest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	priv, created, err := loadOrCreateKey(ctx, f.TPM(), dir)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	blob, err := os.ReadFile(filepath.Join(dir, SealedKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, priv[:]) {
		t.Fatal("private key stored in the clear")
	}
	if fi, _ := os.Stat(filepath.Join(dir, SealedKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("sealed key mode %v, want 0600", fi.Mode().Perm())
	}
	d, err := New(ctx, userspaceConfig(dir, f.TPM()))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	want, _ := publicKey(priv)
	if d.PublicKey() != want {
		t.Fatal("restart did not unseal the same key")
	}
}

// TestSealedKeyCorrupt: a damaged sealed key gives a clear error, not a new key.
func TestSealedKeyCorrupt(t *testing.T) {
	f := attesttest.New(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SealedKeyFile), []byte("not a sealed blob"), 0o600)
	_, err := New(context.Background(), userspaceConfig(dir, f.TPM()))
	if !errors.Is(err, ErrKeyUnseal) || !errors.Is(err, attest.ErrUnseal) || !strings.Contains(err.Error(), "state directory") {
		t.Fatalf("corrupt sealed key: %v", err)
	}
}

// startSWTPM runs a second, independent TPM (swtpm) for the test.
func startSWTPM(t *testing.T) attest.TPM {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("SKIPPED: swtpm not installed (make deps installs it; CI has it)")
	}
	ports := make([]int, 2)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(ports[0]),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(ports[1]),
		"--tpmstate", "dir="+t.TempDir(), "--flags", "not-need-init,startup-clear")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	deadline := time.Now().Add(10 * time.Second)
	for {
		tpm, err := devtpm.OpenSWTPM(context.Background(), addr)
		if err == nil {
			t.Cleanup(func() { tpm.Close() })
			return tpm
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSealedKeyOtherTPMOrChangedBoot: a state directory copied to another
// box (another TPM), or a box whose boot measurements changed, cannot unseal
// the key, and the error says so.
func TestSealedKeyOtherTPMOrChangedBoot(t *testing.T) {
	f := attesttest.New(t)
	other := startSWTPM(t)
	ctx := context.Background()

	copied := t.TempDir()
	if _, _, err := loadOrCreateKey(ctx, f.TPM(), copied); err != nil {
		t.Fatal(err)
	}
	_, err := New(ctx, userspaceConfig(copied, other))
	if !errors.Is(err, ErrKeyUnseal) || !errors.Is(err, attest.ErrUnseal) || !strings.Contains(err.Error(), "copied") {
		t.Fatalf("state dir on another TPM: %v", err)
	}

	dir := t.TempDir()
	d, err := New(ctx, userspaceConfig(dir, other))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	digest := sha256.Sum256([]byte("tampered bootloader"))
	if err := other.ExtendPCR(ctx, 4, digest[:]); err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, userspaceConfig(dir, other))
	if !errors.Is(err, ErrKeyUnseal) || !errors.Is(err, attest.ErrUnseal) || !strings.Contains(err.Error(), "measurements changed") {
		t.Fatalf("changed boot measurements: %v", err)
	}
}
