package attest_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/firmware"
)

const peer = "hospital-b"

func TestAppraisePassAndReport(t *testing.T) {
	ca := mustCA(t)
	b := openBox(t, dir(t, "b"), ca, goodComponents(), attest.AttesterConfig{})
	defer b.close()
	clk := &clock{t: time.Now().Add(time.Hour).Truncate(time.Second)}
	m := signedManifest(t, manifestFor("2026.11", goodComponents()...))
	v := newVerifier(t, ca, map[string]string{peer: b.att.EKFingerprint()}, clk, m)
	enroll(t, v, b, peer)
	wg, rk := keys()
	ev := evidence(t, v, b, peer, wg, rk)
	// Over the wire and back.
	raw, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	vd, r, err := v.AppraiseBytes(testCtx, peer, ev.Nonce, raw, wg, rk)
	if err != nil {
		t.Fatal(err)
	}
	if !vd.Passed() {
		t.Fatalf("good box refused: %v", vd.Reasons())
	}
	if vd.WireGuardKey() != wg || !vd.RecordKey().Equal(rk) || vd.Peer() != peer {
		t.Fatal("verdict does not carry the bound keys and peer")
	}
	if want := clk.t.Add(5 * time.Minute); !vd.Expiry().Equal(want) || !vd.Valid(clk.t) || vd.Valid(want) {
		t.Fatalf("expiry = %v, want %v", vd.Expiry(), want)
	}

	// The signed report verifies with the published key, says what was
	// appraised, and any edit breaks it.
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := attest.VerifyReport(data, v.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if got.Peer != peer || got.Verifier != "hospital-a" || !got.Pass || got.PolicyVersion != "policy-7" ||
		!slices.Equal(got.ManifestVersions, []string{"acme-edge/2026.11"}) || got.EKFingerprint != b.att.EKFingerprint() ||
		got.ID != vd.ReportID() || !got.Expiry.Equal(vd.Expiry()) || len(got.PCRs) != len(attest.DefaultPCRs()) {
		t.Fatalf("report = %+v", got)
	}
	var names []string
	for _, c := range got.Components {
		if !c.Matched || c.Manifest != "acme-edge/2026.11" {
			t.Errorf("component %+v not matched", c)
		}
		names = append(names, c.Name+"@"+c.Version)
	}
	if want := []string{"firmware@1.4.2", "bootloader@2.12", "kernel@6.12.8", "wardgated@0.1.0"}; !slices.Equal(names, want) {
		t.Fatalf("components = %v, want %v", names, want)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	if _, err := attest.VerifyReport(data, otherKey.Public().(ed25519.PublicKey)); !errors.Is(err, attest.ErrReportSignature) {
		t.Fatalf("VerifyReport with another key = %v", err)
	}
	tampered := bytes.Replace(data, []byte(peer), []byte("hospital-x"), 1)
	if _, err := attest.VerifyReport(tampered, v.PublicKey()); err == nil {
		t.Fatal("edited report verified")
	}
	if _, err := attest.VerifyReport([]byte("{"), v.PublicKey()); !errors.Is(err, attest.ErrMalformed) {
		t.Fatalf("garbage report: %v", err)
	}

	// Re-attestation with a new nonce passes again without re-enrolment.
	ev2 := evidence(t, v, b, peer, wg, rk)
	if vd, _ := appraise(t, v, peer, ev2, wg, rk); !vd.Passed() {
		t.Fatalf("re-attestation refused: %v", vd.Reasons())
	}
}

// TestRefusalsOnGoodBox covers the refusals that a genuine box can be
// made to hit by the network or by the verifier's configuration.
func TestRefusalsOnGoodBox(t *testing.T) {
	ca := mustCA(t)
	b := openBox(t, dir(t, "b"), ca, goodComponents(), attest.AttesterConfig{})
	defer b.close()
	m := signedManifest(t, manifestFor("2026.11", goodComponents()...))
	clk := &clock{t: time.Now()}
	enrolled := map[string]string{peer: b.att.EKFingerprint()}
	v := newVerifier(t, ca, enrolled, clk, m)
	enroll(t, v, b, peer)
	wg, rk := keys()

	t.Run("nonce-replayed", func(t *testing.T) {
		ev := evidence(t, v, b, peer, wg, rk)
		if vd, _ := appraise(t, v, peer, ev, wg, rk); !vd.Passed() {
			t.Fatalf("first use refused: %v", vd.Reasons())
		}
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonNonceReplayed)
	})
	t.Run("nonce-stale", func(t *testing.T) {
		ev := evidence(t, v, b, peer, wg, rk)
		clk.t = clk.t.Add(31 * time.Second)
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonNonceStale)
	})
	t.Run("nonce-superseded", func(t *testing.T) {
		// Evidence fetched for one round, spent after the next round's
		// nonce was issued: in that round, and under its own nonce.
		old := evidence(t, v, b, peer, wg, rk)
		n, _ := v.Nonce(peer)
		vd, r, err := v.Appraise(testCtx, peer, n, old, wg, rk)
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, vd, r, attest.ReasonNonceSuperseded)
		old = evidence(t, v, b, peer, wg, rk)
		v.Nonce(peer)
		vd, r = appraise(t, v, peer, old, wg, rk)
		wantRefused(t, vd, r, attest.ReasonNonceSuperseded)
	})
	t.Run("nonce-unknown", func(t *testing.T) {
		ev, err := b.att.Evidence(testCtx, bytes.Repeat([]byte{7}, 32), wg, rk)
		if err != nil {
			t.Fatal(err)
		}
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonNonceUnknown)
		// A nonce issued to another peer is not this peer's.
		n, _ := v.Nonce("hospital-z")
		ev, _ = b.att.Evidence(testCtx, n, wg, rk)
		vd, r = appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonNonceUnknown)
	})
	t.Run("bound-key-mismatch", func(t *testing.T) {
		// Evidence relayed by a box that presents its own WireGuard key.
		ev := evidence(t, v, b, peer, wg, rk)
		otherWG, otherRK := keys()
		vd, r := appraise(t, v, peer, ev, otherWG, rk)
		wantRefused(t, vd, r, attest.ReasonBoundKeyMismatch)
		ev = evidence(t, v, b, peer, wg, rk)
		vd, r = appraise(t, v, peer, ev, wg, otherRK)
		wantRefused(t, vd, r, attest.ReasonBoundKeyMismatch)
	})
	t.Run("quote-binding", func(t *testing.T) {
		// The relay edits the keys in the evidence to match its own.
		ev := evidence(t, v, b, peer, wg, rk)
		otherWG, _ := keys()
		ev.WireGuardKey = otherWG[:]
		vd, r := appraise(t, v, peer, ev, otherWG, rk)
		wantRefused(t, vd, r, attest.ReasonQuoteBinding)
	})
	t.Run("quote-signature", func(t *testing.T) {
		ev := evidence(t, v, b, peer, wg, rk)
		ev.Signature = slices.Clone(ev.Signature)
		ev.Signature[len(ev.Signature)-3] ^= 1
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonQuoteSignature)
		ev = evidence(t, v, b, peer, wg, rk)
		ev.Quote = slices.Clone(ev.Quote)
		ev.Quote[len(ev.Quote)-1] ^= 1
		vd, r = appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonQuoteSignature)
	})
	t.Run("sha1-only", func(t *testing.T) {
		a1, err := attest.NewAttester(testCtx, b.tpm, attest.AttesterConfig{StateDir: b.dir, EventLog: b.log, Bank: "sha1"})
		if err != nil {
			t.Fatal(err)
		}
		defer a1.Close() // the simulator has few object slots
		n, _ := v.Nonce(peer)
		ev, err := a1.Evidence(testCtx, n, wg, rk)
		if err != nil {
			t.Fatal(err)
		}
		if ev.HashAlg != "sha1" || len(ev.PCRs[0].Digest) != 20 {
			t.Fatalf("not SHA-1 evidence: %s", ev.HashAlg)
		}
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonSHA1Only)
		// Relabelling the SHA-1 quote as SHA-256 does not help.
		n, _ = v.Nonce(peer)
		ev, _ = a1.Evidence(testCtx, n, wg, rk)
		ev.HashAlg = "sha256"
		vd, r = appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonSHA1Only)
	})
	t.Run("evidence-malformed", func(t *testing.T) {
		ev := evidence(t, v, b, peer, wg, rk)
		raw, _ := ev.Marshal()
		for name, bad := range map[string][]byte{
			"truncated": raw[:len(raw)/2],
			"garbage":   []byte("\x00\x01binary garbage\xff"),
			"empty":     nil,
			"huge":      make([]byte, attest.MaxEvidenceSize+1),
		} {
			vd, r, err := v.AppraiseBytes(testCtx, peer, ev.Nonce, bad, wg, rk)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantRefused(t, vd, r, attest.ReasonEvidenceMalformed)
		}
		cut := *ev
		cut.Quote = cut.Quote[:10]
		vd, _ := appraise(t, v, peer, &cut, wg, rk)
		if !slices.ContainsFunc(vd.Reasons(), func(x attest.Reason) bool {
			return x.Code == attest.ReasonQuoteSignature || x.Code == attest.ReasonEvidenceMalformed
		}) {
			t.Fatalf("truncated quote: %v", vd.Reasons())
		}
		vd, r := appraise(t, v, peer, nil, wg, rk)
		wantRefused(t, vd, r, attest.ReasonEvidenceMalformed)
	})
	t.Run("eventlog-mismatch/hidden-component", func(t *testing.T) {
		// The log leaves out the kernel (the only event in PCR 8).
		w := firmware.NewEventLogWriter()
		for _, c := range goodComponents() {
			if c.Name != "kernel" {
				w.Append(c.PCR, 0x0D, c.Digest, firmware.EventData(c.Name, c.Version))
			}
		}
		ev := evidence(t, v, b, peer, wg, rk)
		ev.EventLog = w.Bytes()
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonEventLogMismatch)
	})
	t.Run("eventlog-mismatch/altered-digest", func(t *testing.T) {
		k := firmware.Measure("kernel", "6.12.8", 8, []byte("kernel image 6.12.8"))
		ev := evidence(t, v, b, peer, wg, rk)
		ev.EventLog = bytes.Replace(slices.Clone(ev.EventLog), k.Digest, make([]byte, 32), 1)
		if bytes.Equal(ev.EventLog, b.log) {
			t.Fatal("test did not edit the log")
		}
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonEventLogMismatch)
	})
	t.Run("eventlog-malformed", func(t *testing.T) {
		ev := evidence(t, v, b, peer, wg, rk)
		ev.EventLog = ev.EventLog[:len(ev.EventLog)-5]
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonEventLogMalformed)
	})
	t.Run("pcr-mismatch/edited-values", func(t *testing.T) {
		ev := evidence(t, v, b, peer, wg, rk)
		ev.PCRs = slices.Clone(ev.PCRs)
		ev.PCRs[8].Digest = make([]byte, 32)
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonPCRMismatch)
	})
	t.Run("manifest-signature", func(t *testing.T) {
		data, _, err := firmware.SignManifest(manifestFor("2026.11", goodComponents()...), vendorKey)
		if err != nil {
			t.Fatal(err)
		}
		unsigned, err := firmware.ParseManifest(data) // never signature-checked
		if err != nil {
			t.Fatal(err)
		}
		v2 := newVerifier(t, ca, enrolled, nil, unsigned)
		enroll(t, v2, b, peer)
		vd, r := appraise(t, v2, peer, evidence(t, v2, b, peer, wg, rk), wg, rk)
		wantRefused(t, vd, r, attest.ReasonManifestSignature)
	})
	t.Run("component-missing", func(t *testing.T) {
		_, rkey, _ := ed25519.GenerateKey(nil)
		v2, err := attest.NewVerifier(attest.VerifierConfig{
			Name: "hospital-a", Roots: ca.Roots(), Enrollment: enrolled, Manifests: []*firmware.Manifest{m},
			ReportKey: rkey, Policy: attest.Policy{Version: "p", RequiredComponents: []string{"kernel", "microcode"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		enroll(t, v2, b, peer)
		vd, r := appraise(t, v2, peer, evidence(t, v2, b, peer, wg, rk), wg, rk)
		wantRefused(t, vd, r, attest.ReasonComponentMissing)
	})
	t.Run("pcr-selection", func(t *testing.T) {
		a2, err := attest.NewAttester(testCtx, b.tpm, attest.AttesterConfig{StateDir: b.dir, EventLog: b.log, PCRs: []int{0, 4, 8, 9}})
		if err != nil {
			t.Fatal(err)
		}
		defer a2.Close()
		n, _ := v.Nonce(peer)
		ev, _ := a2.Evidence(testCtx, n, wg, rk)
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonPCRSelection)
	})
	t.Run("ek-unknown-ca", func(t *testing.T) {
		other := mustCA(t) // the verifier trusts another manufacturer only
		v2 := newVerifier(t, other, enrolled, nil, m)
		id, _ := b.att.Identity(testCtx)
		_, err := v2.Challenge(testCtx, peer, id)
		if attest.ReasonCode(err) != attest.ReasonEKUnknownCA {
			t.Fatalf("Challenge = %v, want %s", err, attest.ReasonEKUnknownCA)
		}
		vd, r := appraise(t, v2, peer, evidence(t, v2, b, peer, wg, rk), wg, rk)
		wantRefused(t, vd, r, attest.ReasonEKUnknownCA)
		if r.EKFingerprint != b.att.EKFingerprint() {
			t.Fatalf("refusal report names EK %q", r.EKFingerprint)
		}
	})
	t.Run("device-unenrolled", func(t *testing.T) {
		v2 := newVerifier(t, ca, map[string]string{"hospital-c": b.att.EKFingerprint()}, nil, m)
		id, _ := b.att.Identity(testCtx)
		if _, err := v2.Challenge(testCtx, peer, id); attest.ReasonCode(err) != attest.ReasonDeviceUnenrolled {
			t.Fatalf("Challenge = %v, want %s", err, attest.ReasonDeviceUnenrolled)
		}
		vd, r := appraise(t, v2, peer, evidence(t, v2, b, peer, wg, rk), wg, rk)
		wantRefused(t, vd, r, attest.ReasonDeviceUnenrolled)
		// The right name with another box's EK is refused too.
		v3 := newVerifier(t, ca, map[string]string{peer: "sha256:" + hex.EncodeToString(make([]byte, 32))}, nil, m)
		if _, err := v3.Challenge(testCtx, peer, id); attest.ReasonCode(err) != attest.ReasonDeviceUnenrolled {
			t.Fatalf("Challenge = %v, want %s", err, attest.ReasonDeviceUnenrolled)
		}
	})
	t.Run("ak-not-activated", func(t *testing.T) {
		v2 := newVerifier(t, ca, enrolled, nil, m)
		vd, r := appraise(t, v2, peer, evidence(t, v2, b, peer, wg, rk), wg, rk)
		wantRefused(t, vd, r, attest.ReasonNotActivated)
	})
}

// goldenPCRs are the PCR values a box that booted comps would have.
func goldenPCRs(comps []firmware.BootComponent) []attest.PCRValue {
	vals := map[int][]byte{}
	for _, i := range attest.DefaultPCRs() {
		vals[i] = make([]byte, 32)
	}
	for _, c := range comps {
		h := sha256.Sum256(append(slices.Clone(vals[c.PCR]), c.Digest...))
		vals[c.PCR] = h[:]
	}
	var out []attest.PCRValue
	for _, i := range attest.DefaultPCRs() {
		out = append(out, attest.PCRValue{Index: i, Digest: vals[i]})
	}
	return out
}

func TestRefusalsOnTamperedBox(t *testing.T) {
	ca := mustCA(t)
	good := goodComponents()
	m := signedManifest(t, manifestFor("2026.11", good...))
	goodLog, _ := firmware.Boot(testCtx, nopExtender{}, good)
	tampered := withComponent(good, firmware.Measure("kernel", "6.12.8", 8, []byte("kernel image 6.12.8 + rootkit")))
	b := openBox(t, dir(t, "b"), ca, tampered, attest.AttesterConfig{})
	defer b.close()
	v := newVerifier(t, ca, map[string]string{peer: b.att.EKFingerprint()}, nil, m)
	enroll(t, v, b, peer)
	wg, rk := keys()

	t.Run("honest-log", func(t *testing.T) {
		vd, r := appraise(t, v, peer, evidence(t, v, b, peer, wg, rk), wg, rk)
		wantRefused(t, vd, r, attest.ReasonComponentUnapproved)
		for _, c := range r.Components {
			if c.Name == "kernel" && c.Matched {
				t.Fatal("tampered kernel reported as matched")
			}
		}
	})
	t.Run("pcr-mismatch", func(t *testing.T) {
		// The box claims the PCR values and log of a good boot.
		ev := evidence(t, v, b, peer, wg, rk)
		ev.PCRs, ev.EventLog = goldenPCRs(good), goodLog
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonPCRMismatch)
	})
	t.Run("eventlog-mismatch", func(t *testing.T) {
		// True PCRs, but a log that claims the approved kernel.
		ev := evidence(t, v, b, peer, wg, rk)
		ev.EventLog = goodLog
		vd, r := appraise(t, v, peer, ev, wg, rk)
		wantRefused(t, vd, r, attest.ReasonEventLogMismatch)
	})
	if !bytes.Equal(goldenPCRs(good)[0].Digest, goldenPCRs(tampered)[0].Digest) {
		t.Fatal("PCR 0 should not depend on the kernel")
	}
}

type nopExtender struct{}

func (nopExtender) ExtendPCR(context.Context, int, []byte) error { return nil }

func TestRollingUpgradeAndUnapprovedVersion(t *testing.T) {
	ca := mustCA(t)
	old := goodComponents()
	k13 := firmware.Measure("kernel", "6.13.0", 8, []byte("kernel image 6.13.0"))
	upgraded := withComponent(old, k13)
	b := openBox(t, dir(t, "b"), ca, upgraded, attest.AttesterConfig{})
	defer b.close()
	enrolled := map[string]string{peer: b.att.EKFingerprint()}
	wg, rk := keys()

	// Manifest 2026.11 approves only kernel 6.12.8.
	v := newVerifier(t, ca, enrolled, nil, signedManifest(t, manifestFor("2026.11", old...)))
	enroll(t, v, b, peer)
	vd, r := appraise(t, v, peer, evidence(t, v, b, peer, wg, rk), wg, rk)
	wantRefused(t, vd, r, attest.ReasonComponentUnapproved)
	if msg := vd.Reasons()[0].Message; !bytes.Contains([]byte(msg), []byte("kernel 6.13.0")) {
		t.Fatalf("reason does not name the component: %q", msg)
	}

	// Manifest 2026.12 approves both kernels during the rollout.
	v2 := newVerifier(t, ca, enrolled, nil, signedManifest(t, manifestFor("2026.12", append(old, k13)...)))
	enroll(t, v2, b, peer)
	vd, r = appraise(t, v2, peer, evidence(t, v2, b, peer, wg, rk), wg, rk)
	if !vd.Passed() {
		t.Fatalf("upgraded box refused with both versions approved: %v", vd.Reasons())
	}
	if !slices.ContainsFunc(r.Components, func(c attest.ReportComponent) bool { return c.Name == "kernel" && c.Version == "6.13.0" && c.Matched }) {
		t.Fatalf("report components = %+v", r.Components)
	}
}

func TestActivationFailsForAKFromAnotherTPM(t *testing.T) {
	ca := mustCA(t)
	// Box A: a genuine, enrolled TPM whose EK certificate is copied.
	a := openBox(t, dir(t, "a"), ca, goodComponents(), attest.AttesterConfig{})
	idA, _ := a.att.Identity(testCtx)
	fpA := a.att.EKFingerprint()
	a.close()

	// Box B presents A's EK certificate with B's own AK.
	b := openBox(t, dir(t, "b"), ca, goodComponents(), attest.AttesterConfig{})
	defer b.close()
	idB, _ := b.att.Identity(testCtx)
	forged := &attest.Identity{Version: attest.ProtocolVersion, EKCert: idA.EKCert, AK: idB.AK}
	v := newVerifier(t, ca, map[string]string{peer: fpA}, nil, signedManifest(t, manifestFor("1", goodComponents()...)))
	ch, err := v.Challenge(testCtx, peer, forged)
	if err != nil {
		t.Fatalf("Challenge: %v", err) // the certificate itself is fine
	}
	_, err = b.att.ActivateCredential(testCtx, ch)
	if err == nil {
		t.Fatal("TPM B activated a credential made for TPM A's EK")
	}
	// The best B can send is a guess.
	resp := &attest.ChallengeResponse{Version: attest.ProtocolVersion, Secret: bytes.Repeat([]byte{1}, 32)}
	if err := v.Activate(testCtx, peer, resp); attest.ReasonCode(err) != attest.ReasonActivationFailed {
		t.Fatalf("Activate = %v, want %s", err, attest.ReasonActivationFailed)
	}
	wg, rk := keys()
	vd, r := appraise(t, v, peer, evidence(t, v, b, peer, wg, rk), wg, rk)
	wantRefused(t, vd, r, attest.ReasonActivationFailed)

	// Activating without a challenge is refused too.
	if err := v.Activate(testCtx, peer, resp); attest.ReasonCode(err) != attest.ReasonActivationFailed {
		t.Fatalf("Activate without challenge = %v", err)
	}
}

// TestDaemonMustBeLast: a box that measured something after wardgated (so
// code that wardgated did not vouch for ran after it) is refused even if
// every component is approved.
func TestDaemonMustBeLast(t *testing.T) {
	ca := mustCA(t)
	good := goodComponents()
	order := []firmware.BootComponent{good[0], good[1], good[3], good[2]} // kernel after wardgated
	d := dir(t, "b")
	tp, err := devtpm.OpenSimulator(d)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if err := ca.ProvisionEK(testCtx, tp); err != nil {
		t.Fatal(err)
	}
	w := firmware.NewEventLogWriter()
	for _, c := range order {
		if err := tp.ExtendPCR(testCtx, c.PCR, c.Digest); err != nil {
			t.Fatal(err)
		}
		w.Append(c.PCR, 0x0D, c.Digest, firmware.EventData(c.Name, c.Version))
	}
	a, err := attest.NewAttester(testCtx, tp, attest.AttesterConfig{StateDir: d, EventLog: w.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{dir: d, tpm: tp, att: a, log: w.Bytes()}
	v := newVerifier(t, ca, map[string]string{peer: a.EKFingerprint()}, nil, signedManifest(t, manifestFor("1", good...)))
	enroll(t, v, b, peer)
	wg, rk := keys()
	vd, r := appraise(t, v, peer, evidence(t, v, b, peer, wg, rk), wg, rk)
	wantRefused(t, vd, r, attest.ReasonDaemonNotLast)
}

func TestParseMessagesNameTheField(t *testing.T) {
	for _, tc := range []struct {
		in    string
		parse func([]byte) error
		want  string
	}{
		{`{"version":"v0"}`, func(b []byte) error { _, err := attest.ParseIdentity(b); return err }, `"version"`},
		{`{"version":"wardgate/attest/v1"}`, func(b []byte) error { _, err := attest.ParseIdentity(b); return err }, `"ek_cert"`},
		{`{"version":"wardgate/attest/v1","secret":""}`, func(b []byte) error { _, err := attest.ParseChallengeResponse(b); return err }, `"secret"`},
		{`{"version":"wardgate/attest/v1","credential":"AQ=="}`, func(b []byte) error { _, err := attest.ParseChallenge(b); return err }, `"credential"`},
		{`{"version":"wardgate/attest/v1","nonce":"AQ=="}`, func(b []byte) error { _, err := attest.ParseEvidence(b); return err }, `"nonce"`},
		{`{"version":"wardgate/attest/v1","bogus":1}`, func(b []byte) error { _, err := attest.ParseEvidence(b); return err }, `unknown field "bogus"`},
	} {
		err := tc.parse([]byte(tc.in))
		if !errors.Is(err, attest.ErrMalformed) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("parse(%s) = %v, want ErrMalformed naming %s", tc.in, err, tc.want)
		}
	}
}

// TestConcurrentAppraisals runs many peers' protocols at once against one
// verifier (run with -race): per-peer state and nonces must not mix.
func TestConcurrentAppraisals(t *testing.T) {
	ca := mustCA(t)
	b := openBox(t, dir(t, "b"), ca, goodComponents(), attest.AttesterConfig{})
	defer b.close()
	m := signedManifest(t, manifestFor("1", goodComponents()...))
	enrolled := map[string]string{}
	peers := []string{"p1", "p2", "p3", "p4"}
	for _, p := range peers {
		enrolled[p] = b.att.EKFingerprint()
	}
	v := newVerifier(t, ca, enrolled, nil, m)
	for _, p := range peers {
		enroll(t, v, b, p)
	}
	type result struct {
		peer string
		vd   *attest.Verdict
		err  error
	}
	out := make(chan result)
	for _, p := range peers {
		go func() {
			for i := 0; i < 5; i++ {
				wg, rk := keys()
				n, _ := v.Nonce(p)
				ev, err := b.att.Evidence(testCtx, n, wg, rk)
				if err != nil {
					out <- result{p, nil, err}
					continue
				}
				vd, _, err := v.Appraise(testCtx, p, n, ev, wg, rk)
				out <- result{p, vd, err}
			}
		}()
	}
	for i := 0; i < 5*len(peers); i++ {
		r := <-out
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !r.vd.Passed() || r.vd.Peer() != r.peer {
			t.Fatalf("%s: %v", r.peer, r.vd.Reasons())
		}
	}
}
