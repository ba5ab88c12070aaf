package attest_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/firmware"
)

func TestSealUnseal(t *testing.T) {
	ca, _ := devtpm.NewDevCA(dir(t, "ca"))
	d := dir(t, "box")
	b := openBox(t, d, ca, goodComponents(), attest.AttesterConfig{})
	secret := []byte("wireguard private key material..")
	blob, err := b.tpm.Seal(testCtx, secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.tpm.Unseal(testCtx, blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	if _, err := b.tpm.Unseal(testCtx, []byte("garbage")); !errors.Is(err, attest.ErrUnseal) {
		t.Fatalf("Unseal(garbage) = %v, want ErrUnseal", err)
	}
	b.close()

	// Restart with the same boot: the box gets its key back.
	b = openBox(t, d, nil, goodComponents(), attest.AttesterConfig{})
	if got, err := b.tpm.Unseal(testCtx, blob); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal after restart = %q, %v", got, err)
	}
	// A further measurement (tampering after boot) locks the key away.
	d9 := sha256.Sum256([]byte("injected module"))
	if err := b.tpm.ExtendPCR(testCtx, 9, d9[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.tpm.Unseal(testCtx, blob); !errors.Is(err, attest.ErrUnseal) {
		t.Fatalf("Unseal after PCR extend = %v, want ErrUnseal", err)
	}
	b.close()

	// Restart with a tampered kernel: PCR 8 differs.
	tampered := withComponent(goodComponents(), firmware.Measure("kernel", "6.12.8", 8, []byte("kernel with rootkit")))
	b = openBox(t, d, nil, tampered, attest.AttesterConfig{})
	if _, err := b.tpm.Unseal(testCtx, blob); !errors.Is(err, attest.ErrUnseal) {
		t.Fatalf("Unseal with tampered kernel = %v, want ErrUnseal", err)
	}
	b.close()

	// Another TPM (different seed), same boot: refused.
	b = openBox(t, dir(t, "other"), ca, goodComponents(), attest.AttesterConfig{})
	if _, err := b.tpm.Unseal(testCtx, blob); !errors.Is(err, attest.ErrUnseal) {
		t.Fatalf("Unseal on another TPM = %v, want ErrUnseal", err)
	}
	b.close()
}

func TestSeal_SecretBounds(t *testing.T) {
	b := openBox(t, dir(t, "box"), mustCA(t), goodComponents(), attest.AttesterConfig{})
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

func mustCA(t testing.TB) *devtpm.DevCA {
	t.Helper()
	ca, err := devtpm.NewDevCA(dir(t, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestRestartKeepsActivation: a box that restarts (same state directory,
// same boot) keeps its EK and AK, so a verifier that activated it before
// accepts its evidence without re-enrolment.
func TestRestartKeepsActivation(t *testing.T) {
	ca := mustCA(t)
	d := dir(t, "box")
	b := openBox(t, d, ca, goodComponents(), attest.AttesterConfig{})
	v := newVerifier(t, ca, map[string]string{peer: b.att.EKFingerprint()}, nil, signedManifest(t, manifestFor("1", goodComponents()...)))
	enroll(t, v, b, peer)
	b.close()

	b = openBox(t, d, nil, goodComponents(), attest.AttesterConfig{})
	defer b.close()
	wg, rk := keys()
	if vd, _ := appraise(t, v, peer, evidence(t, v, b, peer, wg, rk), wg, rk); !vd.Passed() {
		t.Fatalf("restarted box refused: %v", vd.Reasons())
	}
}

func TestNewAttesterWithoutEKCertificate(t *testing.T) {
	tp, err := devtpm.OpenSimulator(dir(t, "box"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	_, err = attest.NewAttester(testCtx, tp, attest.AttesterConfig{EventLog: []byte{1}})
	if err == nil || !strings.Contains(err.Error(), "ProvisionEK") {
		t.Fatalf("NewAttester without EK certificate = %v, want an error saying how to provision it", err)
	}
	if _, err := attest.NewAttester(testCtx, tp, attest.AttesterConfig{Bank: "md5"}); err == nil {
		t.Fatal("accepted bank md5")
	}
}

// OpenDevice needs a hardware TPM, which this machine does not have; only
// its error path is tested here.
func TestOpenDeviceMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tpmrm0")
	if _, err := attest.OpenDevice(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("OpenDevice(%s) = %v, want an error naming the path", p, err)
	}
}

// OpenTransport takes ownership of the transport: a transport it refuses
// is closed, so an opener cannot leak the simulator's one-per-process slot.
func TestOpenTransportRefusesIncompleteTransport(t *testing.T) {
	for name, tr := range map[string]attest.Transport{
		"no kind": {RW: new(bytes.Buffer)},
		"no RW":   {Kind: "swtpm"},
	} {
		closed := false
		tr.Close = func() error { closed = true; return nil }
		if _, err := attest.OpenTransport(tr); err == nil || !strings.Contains(err.Error(), "Kind") {
			t.Errorf("%s: OpenTransport = %v, want an error naming Kind and RW", name, err)
		}
		if !closed {
			t.Errorf("%s: the refused transport was not closed", name)
		}
	}
}
