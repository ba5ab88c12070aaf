package attest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/firmware"
)

// Tests run one simulator at a time (one per process), each a fresh box.

var testCtx = context.Background()

func goodComponents() []firmware.BootComponent {
	return []firmware.BootComponent{
		firmware.Measure("firmware", "1.4.2", 0, []byte("firmware image 1.4.2")),
		firmware.Measure("bootloader", "2.12", 4, []byte("bootloader image 2.12")),
		firmware.Measure("kernel", "6.12.8", 8, []byte("kernel image 6.12.8")),
		firmware.Measure(firmware.DaemonComponent, "0.1.0", 9, []byte("wardgated binary 0.1.0")),
	}
}

// withComponent replaces the component of the same name.
func withComponent(comps []firmware.BootComponent, c firmware.BootComponent) []firmware.BootComponent {
	out := slices.Clone(comps)
	for i := range out {
		if out[i].Name == c.Name {
			out[i] = c
		}
	}
	return out
}

func manifestFor(version string, comps ...firmware.BootComponent) *firmware.Manifest {
	m := &firmware.Manifest{Vendor: "acme-edge", Version: version}
	for _, c := range comps {
		m.Components = append(m.Components, firmware.Component{Name: c.Name, Version: c.Version, SHA256: hex.EncodeToString(c.Digest), PCR: c.PCR})
	}
	return m
}

var vendorPub, vendorKey, _ = ed25519.GenerateKey(rand.Reader)

func signedManifest(t testing.TB, m *firmware.Manifest) *firmware.Manifest {
	t.Helper()
	data, sig, err := firmware.SignManifest(m, vendorKey)
	if err != nil {
		t.Fatal(err)
	}
	out, err := firmware.VerifyManifest(data, sig, []ed25519.PublicKey{vendorPub})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// box is one simulated hospital box: TPM, EK certificate, measured boot.
type box struct {
	dir string
	tpm attest.TPM
	att *attest.Attester
	log []byte
}

// openBox opens (or reopens) the simulator in dir, provisions its EK with
// ca if it has none yet, plays the boot and builds the attester.
func openBox(t testing.TB, dir string, ca *devtpm.DevCA, comps []firmware.BootComponent, cfg attest.AttesterConfig) *box {
	t.Helper()
	tp, err := devtpm.OpenSimulator(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	if ca != nil {
		if err := ca.ProvisionEK(testCtx, tp); err != nil {
			t.Fatal(err)
		}
	}
	log, err := firmware.Boot(testCtx, tp, comps)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EventLog == nil {
		cfg.EventLog = log
	}
	if cfg.StateDir == "" {
		cfg.StateDir = dir
	}
	a, err := attest.NewAttester(testCtx, tp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &box{dir: dir, tpm: tp, att: a, log: log}
}

func (b *box) close() { b.tpm.Close() }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newVerifier(t testing.TB, ca *devtpm.DevCA, enroll map[string]string, c *clock, manifests ...*firmware.Manifest) *attest.Verifier {
	t.Helper()
	_, rk, _ := ed25519.GenerateKey(rand.Reader)
	cfg := attest.VerifierConfig{
		Name: "hospital-a", Roots: ca.Roots(), Enrollment: enroll, Manifests: manifests,
		Policy: attest.Policy{Version: "policy-7"}, ReportKey: rk,
		VerdictLifetime: 5 * time.Minute, NonceTTL: 30 * time.Second,
	}
	if c != nil {
		cfg.Now = c.now
	}
	v, err := attest.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func enroll(t testing.TB, v *attest.Verifier, b *box, peer string) {
	t.Helper()
	id, err := b.att.Identity(testCtx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := v.Challenge(testCtx, peer, id)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.att.ActivateCredential(testCtx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Activate(testCtx, peer, resp); err != nil {
		t.Fatal(err)
	}
}

func keys() ([32]byte, ed25519.PublicKey) {
	var wg [32]byte
	rand.Read(wg[:])
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return wg, pub
}

func evidence(t testing.TB, v *attest.Verifier, b *box, peer string, wg [32]byte, rk ed25519.PublicKey) *attest.Evidence {
	t.Helper()
	n, err := v.Nonce(peer)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := b.att.Evidence(testCtx, n, wg, rk)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func appraise(t testing.TB, v *attest.Verifier, peer string, ev *attest.Evidence, wg [32]byte, rk ed25519.PublicKey) (*attest.Verdict, *attest.Report) {
	t.Helper()
	var nonce []byte
	if ev != nil {
		nonce = ev.Nonce
	}
	vd, r, err := v.Appraise(testCtx, peer, nonce, ev, wg, rk)
	if err != nil {
		t.Fatal(err)
	}
	if vd.ReportID() != r.ID || vd.Passed() != r.Pass {
		t.Fatalf("verdict and report disagree: %s/%v vs %s/%v", vd.ReportID(), vd.Passed(), r.ID, r.Pass)
	}
	return vd, r
}

// wantRefused asserts a failing verdict whose reasons include code, and a
// signed report that says the same.
func wantRefused(t testing.TB, vd *attest.Verdict, r *attest.Report, code string) {
	t.Helper()
	if vd.Passed() || vd.Valid(time.Now()) {
		t.Fatalf("verdict passed; want refusal %q", code)
	}
	var got []string
	for _, x := range vd.Reasons() {
		got = append(got, x.Code)
		if x.Message == "" {
			t.Errorf("reason %q has no human sentence", x.Code)
		}
	}
	if !slices.Contains(got, code) {
		t.Fatalf("reasons = %v, want %q", got, code)
	}
	if r.Pass || len(r.Reasons) != len(got) {
		t.Fatalf("report pass=%v reasons=%v", r.Pass, r.Reasons)
	}
	if _, err := r.Marshal(); err != nil {
		t.Fatal(err)
	}
}

func dir(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }
