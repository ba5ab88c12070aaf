// Package attesttest gives other packages' tests REAL attestation verdicts:
// an in-process go-tpm-tools simulator (devtpm) with a dev-CA EK
// certificate, booted through firmware.Boot with a signed manifest,
// appraised by a real attest.Verifier. The simulator is one per process, so the fixture is
// shared by every test in the process and never closed.
package attesttest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/firmware"
)

// Fixture is the process-wide simulated box.
type Fixture struct {
	mu        sync.Mutex
	dir       string
	tpm       attest.TPM
	ca        *devtpm.DevCA
	att       *attest.Attester
	good      *firmware.Manifest
	bad       *firmware.Manifest // approves another wardgated build only
	vendor    ed25519.PrivateKey
	reportKey ed25519.PrivateKey
}

var (
	once    sync.Once
	shared  *Fixture
	initErr error
)

// Components are the fixture box's boot components, in boot order.
func Components() []firmware.BootComponent {
	return []firmware.BootComponent{
		firmware.Measure("firmware", "1.4.2", 0, []byte("attesttest firmware 1.4.2")),
		firmware.Measure("bootloader", "2.12", 4, []byte("attesttest bootloader 2.12")),
		firmware.Measure("kernel", "6.12.8", 8, []byte("attesttest kernel 6.12.8")),
		firmware.Measure(firmware.DaemonComponent, "0.1.0", 9, []byte("attesttest wardgated 0.1.0")),
	}
}

// New returns the shared fixture, creating it on first use.
func New(t testing.TB) *Fixture {
	t.Helper()
	once.Do(func() { shared, initErr = setup() })
	if initErr != nil {
		t.Fatalf("attesttest: %v", initErr)
	}
	return shared
}

func manifestOf(version string, comps []firmware.BootComponent) *firmware.Manifest {
	m := &firmware.Manifest{Vendor: "attesttest", Version: version}
	for _, c := range comps {
		m.Components = append(m.Components, firmware.Component{Name: c.Name, Version: c.Version, SHA256: hex.EncodeToString(c.Digest), PCR: c.PCR})
	}
	return m
}

// SignedManifest approves comps as manifest version (vendor "attesttest"),
// signed by vendor and verified, as a verifier accepts it.
func SignedManifest(vendor ed25519.PrivateKey, version string, comps []firmware.BootComponent) (*firmware.Manifest, error) {
	data, sig, err := firmware.SignManifest(manifestOf(version, comps), vendor)
	if err != nil {
		return nil, err
	}
	return firmware.VerifyManifest(data, sig, []ed25519.PublicKey{vendor.Public().(ed25519.PublicKey)})
}

func setup() (*Fixture, error) {
	ctx := context.Background()
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("attesttest-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	f := &Fixture{dir: dir}
	_, f.vendor, _ = ed25519.GenerateKey(rand.Reader)
	_, f.reportKey, _ = ed25519.GenerateKey(rand.Reader)
	if f.ca, err = devtpm.NewDevCA(dir + "/ca"); err != nil {
		return nil, err
	}
	if f.tpm, err = devtpm.OpenSimulator(dir + "/tpm"); err != nil {
		return nil, err
	}
	if err := f.ca.ProvisionEK(ctx, f.tpm); err != nil {
		return nil, err
	}
	comps := Components()
	log, err := firmware.Boot(ctx, f.tpm, comps)
	if err != nil {
		return nil, err
	}
	if f.good, err = SignedManifest(f.vendor, "2026.11", comps); err != nil {
		return nil, err
	}
	other := append([]firmware.BootComponent(nil), comps...)
	other[len(other)-1] = firmware.Measure(firmware.DaemonComponent, "0.0.9", 9, []byte("attesttest wardgated 0.0.9"))
	if f.bad, err = SignedManifest(f.vendor, "2026.10", other); err != nil {
		return nil, err
	}
	if f.att, err = attest.NewAttester(ctx, f.tpm, attest.AttesterConfig{StateDir: dir + "/tpm", EventLog: log}); err != nil {
		return nil, err
	}
	return f, nil
}

// removeStale deletes the state of fixtures whose test process has exited:
// the shared fixture lives as long as its process and cannot clean up.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "attesttest-*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "attesttest-%d-", &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// TPM is the fixture's simulated TPM (a Sealer for tunnel tests).
func (f *Fixture) TPM() attest.TPM { return f.tpm }

// Attester is the fixture box's attester.
func (f *Fixture) Attester() *attest.Attester { return f.att }

// CA is the dev manufacturer CA that issued the fixture's EK certificate.
func (f *Fixture) CA() *devtpm.DevCA { return f.ca }

// Manifest is the signed manifest the fixture box passes against.
func (f *Fixture) Manifest() *firmware.Manifest { return f.good }

// VendorKey is the manifest vendor's public key.
func (f *Fixture) VendorKey() ed25519.PublicKey { return f.vendor.Public().(ed25519.PublicKey) }

// ReportKey is the public key that verifies the fixture's reports.
func (f *Fixture) ReportKey() ed25519.PublicKey { return f.reportKey.Public().(ed25519.PublicKey) }

// Verifier returns a real verifier that has the fixture box enrolled as peer.
func (f *Fixture) Verifier(peer string, lifetime time.Duration, manifests ...*firmware.Manifest) (*attest.Verifier, error) {
	if len(manifests) == 0 {
		manifests = []*firmware.Manifest{f.good}
	}
	return attest.NewVerifier(attest.VerifierConfig{
		Name:            "attesttest-verifier",
		Roots:           f.ca.Roots(),
		Enrollment:      map[string]string{peer: f.att.EKFingerprint()},
		Manifests:       manifests,
		Policy:          attest.Policy{Version: "attesttest-1"},
		ReportKey:       f.reportKey,
		VerdictLifetime: lifetime,
	})
}

// Run performs the whole protocol (identity, credential activation, nonce,
// channel-bound evidence, appraisal) against v.
func (f *Fixture) Run(ctx context.Context, v *attest.Verifier, peer string, wgKey [32]byte, recordKey ed25519.PublicKey) (*attest.Verdict, *attest.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Attest(ctx, v, f.att, peer, wgKey, recordKey)
}

// Attest runs the whole protocol between any attester and verifier:
// identity, challenge and credential activation, then a nonce, evidence
// bound to the keys, and its appraisal.
func Attest(ctx context.Context, v *attest.Verifier, a *attest.Attester, peer string, wgKey [32]byte, recordKey ed25519.PublicKey) (*attest.Verdict, *attest.Report, error) {
	id, err := a.Identity(ctx)
	if err != nil {
		return nil, nil, err
	}
	ch, err := v.Challenge(ctx, peer, id)
	if err != nil {
		return nil, nil, err
	}
	resp, err := a.ActivateCredential(ctx, ch)
	if err != nil {
		return nil, nil, err
	}
	if err := v.Activate(ctx, peer, resp); err != nil {
		return nil, nil, err
	}
	nonce, err := v.Nonce(peer)
	if err != nil {
		return nil, nil, err
	}
	ev, err := a.Evidence(ctx, nonce, wgKey, recordKey)
	if err != nil {
		return nil, nil, err
	}
	return v.Appraise(ctx, peer, nonce, ev, wgKey, recordKey)
}

// Pass returns a real passing verdict for peer, bound to the keys, that
// expires after lifetime.
func (f *Fixture) Pass(t testing.TB, peer string, wgKey [32]byte, recordKey ed25519.PublicKey, lifetime time.Duration) *attest.Verdict {
	t.Helper()
	v, err := f.Verifier(peer, lifetime)
	if err != nil {
		t.Fatalf("attesttest: verifier: %v", err)
	}
	vd, _, err := f.Run(context.Background(), v, peer, wgKey, recordKey)
	if err != nil {
		t.Fatalf("attesttest: attestation: %v", err)
	}
	if !vd.Passed() {
		t.Fatalf("attesttest: expected a passing verdict, got %v", vd.Reasons())
	}
	return vd
}

// Fail returns a real failing verdict for peer: the verifier's manifest
// approves a different wardgated build than the one the fixture booted
// (reason "component-unapproved").
func (f *Fixture) Fail(t testing.TB, peer string, wgKey [32]byte, recordKey ed25519.PublicKey) *attest.Verdict {
	t.Helper()
	v, err := f.Verifier(peer, time.Minute, f.bad)
	if err != nil {
		t.Fatalf("attesttest: verifier: %v", err)
	}
	vd, _, err := f.Run(context.Background(), v, peer, wgKey, recordKey)
	if err != nil {
		t.Fatalf("attesttest: attestation: %v", err)
	}
	if vd.Passed() {
		t.Fatal("attesttest: expected a failing verdict")
	}
	return vd
}

// Digest is a convenience for tests building their own components.
func Digest(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}
