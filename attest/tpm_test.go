package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/firmware"
)

func TestSimulatorKeepsEKAcrossRestart(t *testing.T) {
	ca, err := NewDevCA(dir(t, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	d := dir(t, "box")
	b := openBox(t, d, ca, goodComponents(), AttesterConfig{})
	fp := b.att.EKFingerprint()
	id, _ := b.att.Identity(testCtx)

	// go-attestation finds the dev-CA certificate in the EK NV index.
	eks, err := b.tpm.conn().at.EKCertificates()
	if err != nil || len(eks) == 0 || eks[0].Certificate == nil {
		t.Fatalf("EKCertificates() = %v, %v; want the provisioned certificate", eks, err)
	}
	if _, err := eks[0].Certificate.Verify(x509Opts(ca)); err != nil {
		t.Fatalf("EK certificate does not chain to the dev CA: %v", err)
	}
	if _, err := OpenSimulator(dir(t, "other")); err == nil {
		t.Fatal("a second simulator opened in the same process")
	}
	b.close()

	// Same state directory: same EK, certificate restored, no re-provisioning.
	b2 := openBox(t, d, nil, goodComponents(), AttesterConfig{})
	if got := b2.att.EKFingerprint(); got != fp {
		t.Fatalf("EK after restart = %s, want %s", got, fp)
	}
	id2, _ := b2.att.Identity(testCtx)
	if !bytes.Equal(id.EKCert, id2.EKCert) || !bytes.Equal(id.AK.Public, id2.AK.Public) {
		t.Fatal("EK certificate or AK changed across restart")
	}
	b2.close()

	// Another state directory is another TPM.
	b3 := openBox(t, dir(t, "box3"), ca, goodComponents(), AttesterConfig{})
	if b3.att.EKFingerprint() == fp {
		t.Fatal("two seeds gave the same EK")
	}
	b3.close()
}

func TestSimulatorRejectsCorruptSeed(t *testing.T) {
	d := dir(t, "box")
	os.MkdirAll(d, 0o700)
	os.WriteFile(filepath.Join(d, "tpm-seed"), []byte("not a seed"), 0o600)
	if _, err := OpenSimulator(d); err == nil {
		t.Fatal("opened a simulator from a corrupt seed file")
	}
}

func TestSealUnseal(t *testing.T) {
	ca, _ := NewDevCA(dir(t, "ca"))
	d := dir(t, "box")
	b := openBox(t, d, ca, goodComponents(), AttesterConfig{})
	secret := []byte("wireguard private key material..")
	blob, err := b.tpm.Seal(testCtx, secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.tpm.Unseal(testCtx, blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	if _, err := b.tpm.Unseal(testCtx, []byte("garbage")); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Unseal(garbage) = %v, want ErrUnseal", err)
	}
	b.close()

	// Restart with the same boot: the box gets its key back.
	b = openBox(t, d, nil, goodComponents(), AttesterConfig{})
	if got, err := b.tpm.Unseal(testCtx, blob); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal after restart = %q, %v", got, err)
	}
	// A further measurement (tampering after boot) locks the key away.
	d9 := sha256.Sum256([]byte("injected module"))
	if err := b.tpm.ExtendPCR(testCtx, 9, d9[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.tpm.Unseal(testCtx, blob); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Unseal after PCR extend = %v, want ErrUnseal", err)
	}
	b.close()

	// Restart with a tampered kernel: PCR 8 differs.
	tampered := withComponent(goodComponents(), firmware.Measure("kernel", "6.12.8", 8, []byte("kernel with rootkit")))
	b = openBox(t, d, nil, tampered, AttesterConfig{})
	if _, err := b.tpm.Unseal(testCtx, blob); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Unseal with tampered kernel = %v, want ErrUnseal", err)
	}
	b.close()

	// Another TPM (different seed), same boot: refused.
	b = openBox(t, dir(t, "other"), ca, goodComponents(), AttesterConfig{})
	if _, err := b.tpm.Unseal(testCtx, blob); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Unseal on another TPM = %v, want ErrUnseal", err)
	}
	b.close()
}

func TestSeal_SecretBounds(t *testing.T) {
	b := openBox(t, dir(t, "box"), mustCA(t), goodComponents(), AttesterConfig{})
	defer b.close()
	if _, err := b.tpm.Seal(testCtx, nil); err == nil {
		t.Fatal("sealed an empty secret")
	}
	if _, err := b.tpm.Seal(testCtx, make([]byte, 129)); err == nil {
		t.Fatal("sealed a 129-byte secret")
	}
	if err := b.tpm.ExtendPCR(testCtx, 30, make([]byte, 32)); err == nil {
		t.Fatal("extended PCR 30")
	}
	if err := b.tpm.ExtendPCR(testCtx, 3, make([]byte, 20)); err == nil {
		t.Fatal("extended with a SHA-1 sized digest")
	}
}

func mustCA(t testing.TB) *DevCA {
	t.Helper()
	ca, err := NewDevCA(dir(t, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestDevCAReload(t *testing.T) {
	d := dir(t, "ca")
	a, err := NewDevCA(d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDevCA(d)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Certificate().Equal(b.Certificate()) {
		t.Fatal("dev CA changed on reload")
	}
	roots := dir(t, "roots")
	os.MkdirAll(roots, 0o755)
	if _, err := LoadRoots(roots); err == nil {
		t.Fatal("LoadRoots accepted an empty directory")
	}
	os.WriteFile(filepath.Join(roots, "acme.pem"), a.CertPEM(), 0o644)
	if _, err := LoadRoots(roots); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(d, "ca-key.pem"))
	if _, err := NewDevCA(d); err == nil {
		t.Fatal("NewDevCA accepted a CA without its key")
	}
}

// startSWTPM runs a real swtpm process for the test and returns its address.
func startSWTPM(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("SKIPPED: swtpm is not installed (apt-get install swtpm; CI installs it)")
	}
	state := t.TempDir()
	for attempt := 0; attempt < 3; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "socket", "--tpm2",
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", "type=unixio,path="+filepath.Join(state, "ctrl.sock"),
			"--flags", "not-need-init,startup-clear",
			"--tpmstate", "dir="+state)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
	wait:
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-done: // e.g. the port was taken meanwhile: try another
				t.Logf("swtpm exited: %s", stderr.String())
				break wait
			default:
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				t.Cleanup(func() { cancel(); <-done })
				return addr
			}
		}
		cancel()
		<-done
	}
	t.Fatal("swtpm did not start")
	return ""
}

func TestSWTPM(t *testing.T) {
	addr := startSWTPM(t)
	ctx, cancel := context.WithTimeout(testCtx, time.Minute)
	defer cancel()
	tp, err := OpenSWTPM(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if tp.Kind() != "swtpm" {
		t.Fatalf("Kind = %q", tp.Kind())
	}
	ca := mustCA(t)
	if err := ca.ProvisionEK(ctx, tp); err != nil {
		t.Fatal(err)
	}
	log, err := firmware.Boot(ctx, tp, goodComponents())
	if err != nil {
		t.Fatal(err)
	}
	blob, err := tp.Seal(ctx, []byte("swtpm secret"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tp.Unseal(ctx, blob); err != nil || string(got) != "swtpm secret" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	a, err := NewAttester(ctx, tp, AttesterConfig{EventLog: log})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{tpm: tp, att: a, log: log}
	v := newVerifier(t, ca, map[string]string{"hospital-c": a.EKFingerprint()}, nil, signedManifest(t, manifestFor("1", goodComponents()...)))
	enroll(t, v, b, "hospital-c")
	wg, rk := keys()
	vd, r := appraise(t, v, "hospital-c", evidence(t, v, b, "hospital-c", wg, rk), wg, rk)
	if !vd.Passed() {
		t.Fatalf("swtpm evidence refused: %v", vd.Reasons())
	}
	if len(r.Components) != 4 {
		t.Fatalf("report components = %+v", r.Components)
	}
	// Tampering after boot shows up at the next appraisal.
	d := sha256.Sum256([]byte("late module"))
	if err := tp.ExtendPCR(ctx, 8, d[:]); err != nil {
		t.Fatal(err)
	}
	vd, r = appraise(t, v, "hospital-c", evidence(t, v, b, "hospital-c", wg, rk), wg, rk)
	wantRefused(t, vd, r, ReasonEventLogMismatch)
	if _, err := tp.Unseal(ctx, blob); !errors.Is(err, ErrUnseal) {
		t.Fatalf("Unseal after extend = %v, want ErrUnseal", err)
	}
}

// TestRestartKeepsActivation: a box that restarts (same state directory,
// same boot) keeps its EK and AK, so a verifier that activated it before
// accepts its evidence without re-enrolment.
func TestRestartKeepsActivation(t *testing.T) {
	ca := mustCA(t)
	d := dir(t, "box")
	b := openBox(t, d, ca, goodComponents(), AttesterConfig{})
	v := newVerifier(t, ca, map[string]string{peer: b.att.EKFingerprint()}, nil, signedManifest(t, manifestFor("1", goodComponents()...)))
	enroll(t, v, b, peer)
	b.close()

	b = openBox(t, d, nil, goodComponents(), AttesterConfig{})
	defer b.close()
	wg, rk := keys()
	if vd, _ := appraise(t, v, peer, evidence(t, v, b, peer, wg, rk), wg, rk); !vd.Passed() {
		t.Fatalf("restarted box refused: %v", vd.Reasons())
	}
}

func TestNewAttesterWithoutEKCertificate(t *testing.T) {
	tp, err := OpenSimulator(dir(t, "box"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	_, err = NewAttester(testCtx, tp, AttesterConfig{EventLog: []byte{1}})
	if err == nil || !strings.Contains(err.Error(), "ProvisionEK") {
		t.Fatalf("NewAttester without EK certificate = %v, want an error saying how to provision it", err)
	}
	if _, err := NewAttester(testCtx, tp, AttesterConfig{Bank: "md5"}); err == nil {
		t.Fatal("accepted bank md5")
	}
}

// OpenDevice needs a hardware TPM, which this machine does not have; only
// its error path is tested here.
func TestOpenDeviceMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tpmrm0")
	if _, err := OpenDevice(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("OpenDevice(%s) = %v, want an error naming the path", p, err)
	}
}
