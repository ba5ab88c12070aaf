package attest_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	gattest "github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/firmware"
)

// Each appraisal check alone. The cases take real evidence from a
// simulated good box and change one thing, as an attacker on the network
// or on the box would; want is the reason code the attacker sees, and ""
// means the check passes.

// checkBox is a simulated good box enrolled with a verifier.
type checkBox struct {
	*box
	ca *devtpm.DevCA
	v  *attest.Verifier
	ak *gattest.AKPublic
	wg [32]byte
	rk ed25519.PublicKey
}

func newCheckBox(t *testing.T) *checkBox {
	t.Helper()
	ca := mustCA(t)
	b := openBox(t, dir(t, "b"), ca, goodComponents(), attest.AttesterConfig{})
	m := signedManifest(t, manifestFor("2026.11", goodComponents()...))
	v := newVerifier(t, ca, map[string]string{peer: b.att.EKFingerprint()}, nil, m)
	enroll(t, v, b, peer)
	ak, r := v.ActivatedAK(peer)
	if r != nil {
		t.Fatalf("enrolled box: %s", r.Message)
	}
	wg, rk := keys()
	return &checkBox{box: b, ca: ca, v: v, ak: ak, wg: wg, rk: rk}
}

// fresh is new evidence for a fresh nonce. Its event log is the
// attester's own: clone it before editing it.
func (c *checkBox) fresh(t *testing.T) *attest.Evidence {
	t.Helper()
	return evidence(t, c.v, c.box, peer, c.wg, c.rk)
}

// quoted is ev's verified quote.
func (c *checkBox) quoted(t *testing.T, ev *attest.Evidence) *tpm2.AttestationData {
	t.Helper()
	att, r := attest.CheckQuote(c.ak, ev)
	wantReason(t, r, "")
	return att
}

// wantReason asserts that r refuses with code want, in a sentence, or
// passes if want is "".
func wantReason(t *testing.T, r *attest.Reason, want string) {
	t.Helper()
	switch {
	case r == nil && want != "":
		t.Fatalf("passed, want refusal %q", want)
	case r != nil && want == "":
		t.Fatalf("refused with %s (%s), want a pass", r.Code, r.Message)
	case r != nil && r.Code != want:
		t.Fatalf("refused with %s (%s), want %s", r.Code, r.Message, want)
	case r != nil && r.Message == "":
		t.Fatalf("refusal %s has no human sentence", r.Code)
	}
}

func TestCheckWellFormed(t *testing.T) {
	good, err := attest.ParseEvidence(syntheticEvidence())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*attest.Evidence) *attest.Evidence
		want string
	}{
		{"well formed", func(e *attest.Evidence) *attest.Evidence { return e }, ""},
		{"no evidence", func(*attest.Evidence) *attest.Evidence { return nil }, attest.ReasonEvidenceMalformed},
		{"other protocol version", func(e *attest.Evidence) *attest.Evidence { e.Version = "wardgate/attest/v0"; return e }, attest.ReasonEvidenceMalformed},
		{"short nonce", func(e *attest.Evidence) *attest.Evidence { e.Nonce = e.Nonce[:8]; return e }, attest.ReasonEvidenceMalformed},
		{"no signature", func(e *attest.Evidence) *attest.Evidence { e.Signature = nil; return e }, attest.ReasonEvidenceMalformed},
		{"unknown bank", func(e *attest.Evidence) *attest.Evidence { e.HashAlg = "md5"; return e }, attest.ReasonEvidenceMalformed},
		{"repeated PCR", func(e *attest.Evidence) *attest.Evidence { e.PCRs = append(e.PCRs, e.PCRs[0]); return e }, attest.ReasonEvidenceMalformed},
		{"no event log", func(e *attest.Evidence) *attest.Evidence { e.EventLog = nil; return e }, attest.ReasonEvidenceMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := *good
			ev.PCRs = slices.Clone(good.PCRs)
			wantReason(t, attest.CheckWellFormed(tc.edit(&ev)), tc.want)
		})
	}
}

func TestActivatedAK(t *testing.T) {
	c := newCheckBox(t)
	id, err := c.att.Identity(testCtx)
	if err != nil {
		t.Fatal(err)
	}
	enrolled := map[string]string{peer: c.att.EKFingerprint()}
	m := signedManifest(t, manifestFor("1", goodComponents()...))
	for _, tc := range []struct {
		name  string
		setup func(v *attest.Verifier)
		trust *devtpm.DevCA
		want  string
	}{
		{"activated", func(v *attest.Verifier) { enroll(t, v, c.box, peer) }, c.ca, ""},
		{"never enrolled", func(*attest.Verifier) {}, c.ca, attest.ReasonNotActivated},
		{"challenged, never answered", func(v *attest.Verifier) { v.Challenge(testCtx, peer, id) }, c.ca, attest.ReasonNotActivated},
		{"EK from an untrusted manufacturer", func(v *attest.Verifier) { v.Challenge(testCtx, peer, id) }, mustCA(t), attest.ReasonEKUnknownCA},
		{"AK not in the EK's TPM", func(v *attest.Verifier) {
			v.Challenge(testCtx, peer, id)
			v.Activate(testCtx, peer, &attest.ChallengeResponse{Version: attest.ProtocolVersion, Secret: []byte("guessed secret")})
		}, c.ca, attest.ReasonActivationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, tc.trust, enrolled, nil, m)
			tc.setup(v)
			ak, r := v.ActivatedAK(peer)
			wantReason(t, r, tc.want)
			if (ak != nil) != (tc.want == "") {
				t.Fatalf("AK = %v with reason %v", ak, r)
			}
		})
	}
}

// softSign is what an attacker without the box's TPM can do: sign with a
// key of its own, in the TPM's signature encoding.
func softSign(t *testing.T, key *ecdsa.PrivateKey, data []byte) []byte {
	t.Helper()
	d := sha256.Sum256(data)
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig, err := tpm2.Signature{Alg: tpm2.AlgECDSA, ECC: &tpm2.SignatureECC{HashAlg: tpm2.AlgSHA256, R: r, S: s}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestCheckQuote(t *testing.T) {
	c := newCheckBox(t)
	sha1, err := attest.NewAttester(testCtx, c.tpm, attest.AttesterConfig{StateDir: c.dir, EventLog: c.log, Bank: "sha1"})
	if err != nil {
		t.Fatal(err)
	}
	defer sha1.Close() // the simulator has few object slots; same AK as c.ak
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attackerAK := &gattest.AKPublic{Public: &attacker.PublicKey, Hash: crypto.SHA256}

	for _, tc := range []struct {
		name string
		ak   *gattest.AKPublic
		ev   func() *attest.Evidence
		want string
	}{
		{"genuine quote", c.ak, func() *attest.Evidence { return c.fresh(t) }, ""},
		{"signature bit flipped", c.ak, func() *attest.Evidence {
			ev := c.fresh(t)
			ev.Signature = slices.Clone(ev.Signature)
			ev.Signature[len(ev.Signature)-3] ^= 1
			return ev
		}, attest.ReasonQuoteSignature},
		{"quote edited after signing", c.ak, func() *attest.Evidence {
			ev := c.fresh(t)
			ev.Quote = slices.Clone(ev.Quote)
			ev.Quote[len(ev.Quote)-1] ^= 1
			return ev
		}, attest.ReasonQuoteSignature},
		{"quote re-signed with the attacker's key", c.ak, func() *attest.Evidence {
			ev := c.fresh(t)
			ev.Signature = softSign(t, attacker, ev.Quote)
			return ev
		}, attest.ReasonQuoteSignature},
		{"signed data that is not a quote", attackerAK, func() *attest.Evidence {
			ev := c.fresh(t)
			ev.Quote = []byte("not a TPMS_ATTEST structure")
			ev.Signature = softSign(t, attacker, ev.Quote)
			return ev
		}, attest.ReasonEvidenceMalformed},
		{"SHA-1 bank", c.ak, func() *attest.Evidence {
			n, _ := c.v.Nonce(peer)
			ev, err := sha1.Evidence(testCtx, n, c.wg, c.rk)
			if err != nil {
				t.Fatal(err)
			}
			return ev
		}, attest.ReasonSHA1Only},
		{"SHA-1 bank relabelled SHA-256", c.ak, func() *attest.Evidence {
			n, _ := c.v.Nonce(peer)
			ev, err := sha1.Evidence(testCtx, n, c.wg, c.rk)
			if err != nil {
				t.Fatal(err)
			}
			ev.HashAlg = "sha256"
			return ev
		}, attest.ReasonSHA1Only},
	} {
		t.Run(tc.name, func(t *testing.T) {
			att, r := attest.CheckQuote(tc.ak, tc.ev())
			wantReason(t, r, tc.want)
			if (att != nil) != (tc.want == "") {
				t.Fatalf("quote = %v with reason %v", att, r)
			}
		})
	}
}

// TestConsumeNonce: only the round's own nonce, still the peer's newest,
// quoted by the evidence, is accepted; an older one is refused after a
// newer one was issued, whether it is offered as the round's or quoted by
// evidence fetched for an earlier round.
func TestConsumeNonce(t *testing.T) {
	clk := &clock{t: time.Now()}
	v := newVerifier(t, mustCA(t), nil, clk)
	issue := func() []byte {
		n, err := v.Nonce(peer)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	used := issue()
	wantReason(t, v.ConsumeNonce(peer, used, used, clk.t), "")
	other, _ := v.Nonce("hospital-z")
	never := bytes.Repeat([]byte{7}, 32)
	same := func(n func() []byte) func() ([]byte, []byte) {
		return func() ([]byte, []byte) { r := n(); return r, r }
	}
	fixed := func(n []byte) func() []byte { return func() []byte { return n } }
	for _, tc := range []struct {
		name  string
		nonce func() (round, quoted []byte)
		after time.Duration
		want  string
	}{
		{"fresh", same(issue), 0, ""},
		{"replayed", same(fixed(used)), 0, attest.ReasonNonceReplayed},
		{"never issued", same(fixed(never)), 0, attest.ReasonNonceUnknown},
		{"issued to another peer", same(fixed(other)), 0, attest.ReasonNonceUnknown},
		{"older than its TTL", same(issue), 31 * time.Second, attest.ReasonNonceStale},
		{"superseded round", func() ([]byte, []byte) { old := issue(); issue(); return old, old }, 0, attest.ReasonNonceSuperseded},
		{"evidence of an earlier round", func() ([]byte, []byte) { old := issue(); return issue(), old }, 0, attest.ReasonNonceSuperseded},
		{"evidence quoting a never-issued nonce", func() ([]byte, []byte) { return issue(), never }, 0, attest.ReasonNonceUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			round, quoted := tc.nonce()
			wantReason(t, v.ConsumeNonce(peer, round, quoted, clk.t.Add(tc.after)), tc.want)
		})
	}
}

func TestCheckBinding(t *testing.T) {
	c := newCheckBox(t)
	good := c.fresh(t)
	att := c.quoted(t, good)
	otherWG, otherRK := keys()
	for _, tc := range []struct {
		name      string
		edit      func(ev *attest.Evidence)
		wg        [32]byte
		recordKey ed25519.PublicKey
		want      string
	}{
		{"bound to the presented keys", func(*attest.Evidence) {}, c.wg, c.rk, ""},
		{"relay presents its own WireGuard key", func(*attest.Evidence) {}, otherWG, c.rk, attest.ReasonBoundKeyMismatch},
		{"relay presents its own record key", func(*attest.Evidence) {}, c.wg, otherRK, attest.ReasonBoundKeyMismatch},
		{"relay edits the WireGuard key in the evidence", func(ev *attest.Evidence) { ev.WireGuardKey = otherWG[:] }, otherWG, c.rk, attest.ReasonQuoteBinding},
		{"relay edits the record key in the evidence", func(ev *attest.Evidence) { ev.RecordKey = otherRK }, c.wg, otherRK, attest.ReasonQuoteBinding},
		{"evidence carries another nonce", func(ev *attest.Evidence) { ev.Nonce = bytes.Repeat([]byte{7}, 32) }, c.wg, c.rk, attest.ReasonQuoteBinding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := *good
			tc.edit(&ev)
			wantReason(t, attest.CheckBinding(&ev, att, tc.wg, tc.recordKey), tc.want)
		})
	}
}

func TestCheckPCRs(t *testing.T) {
	c := newCheckBox(t)
	good := c.fresh(t)
	att := c.quoted(t, good)
	without8 := slices.DeleteFunc(slices.Clone(good.PCRs), func(p attest.PCRValue) bool { return p.Index == 8 })
	for _, tc := range []struct {
		name   string
		policy []int
		pcrs   func() []attest.PCRValue
		want   string
	}{
		{"quoted values", attest.DefaultPCRs(), func() []attest.PCRValue { return good.PCRs }, ""},
		{"policy PCR not quoted", append(attest.DefaultPCRs(), 10), func() []attest.PCRValue { return good.PCRs }, attest.ReasonPCRSelection},
		{"value edited", attest.DefaultPCRs(), func() []attest.PCRValue {
			p := slices.Clone(good.PCRs)
			p[8].Digest = make([]byte, 32)
			return p
		}, attest.ReasonPCRMismatch},
		{"quoted PCR left out", attest.DefaultPCRs(), func() []attest.PCRValue { return without8 }, attest.ReasonPCRMismatch},
		{"SHA-1 sized value", attest.DefaultPCRs(), func() []attest.PCRValue {
			p := slices.Clone(good.PCRs)
			p[8].Digest = p[8].Digest[:20]
			return p
		}, attest.ReasonPCRMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := *good
			ev.PCRs = tc.pcrs()
			pcrs, r := attest.CheckPCRs(tc.policy, &ev, att)
			wantReason(t, r, tc.want)
			if tc.want == "" && len(pcrs) != len(attest.DefaultPCRs()) {
				t.Fatalf("%d PCRs returned, want %d", len(pcrs), len(attest.DefaultPCRs()))
			}
		})
	}
}

func TestCheckEventLog(t *testing.T) {
	c := newCheckBox(t)
	good := c.fresh(t)
	pcrs, r := attest.CheckPCRs(attest.DefaultPCRs(), good, c.quoted(t, good))
	wantReason(t, r, "")
	kernel := goodComponents()[2]
	without := func(name string) []byte {
		w := firmware.NewEventLogWriter()
		for _, comp := range goodComponents() {
			if comp.Name != name {
				w.Append(comp.PCR, 0x0D, comp.Digest, firmware.EventData(comp.Name, comp.Version))
			}
		}
		return w.Bytes()
	}
	tampered := withComponent(goodComponents(), firmware.Measure("kernel", "6.12.8", 8, []byte("kernel image 6.12.8 + rootkit")))
	tamperedLog, err := firmware.Boot(testCtx, nopExtender{}, tampered)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		log  []byte
		want string
	}{
		{"the boot's own log", good.EventLog, ""},
		{"truncated", good.EventLog[:len(good.EventLog)-5], attest.ReasonEventLogMalformed},
		{"a digest altered", bytes.Replace(slices.Clone(good.EventLog), kernel.Digest, make([]byte, 32), 1), attest.ReasonEventLogMismatch},
		{"the log of another boot", tamperedLog, attest.ReasonEventLogMismatch},
		{"the only event of PCR 8 hidden", without("kernel"), attest.ReasonEventLogMismatch},
		{"no events at all", firmware.NewEventLogWriter().Bytes(), attest.ReasonEventLogMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, r := attest.CheckEventLog(tc.log, pcrs)
			wantReason(t, r, tc.want)
			if tc.want == "" && len(events) != len(goodComponents()) {
				t.Fatalf("%d events, want %d", len(events), len(goodComponents()))
			}
		})
	}
}

func TestCheckManifests(t *testing.T) {
	wantReason(t, attest.CheckManifests(nil), attest.ReasonManifestSignature)
	wantReason(t, attest.CheckManifests([]*firmware.Manifest{signedManifest(t, manifestFor("1", goodComponents()...))}), "")
}

// events are the replayed events of a boot of comps.
func events(comps []firmware.BootComponent) []gattest.Event {
	var out []gattest.Event
	for _, c := range comps {
		out = append(out, gattest.Event{Index: c.PCR, Type: 0x0D, Data: firmware.EventData(c.Name, c.Version), Digest: c.Digest})
	}
	return out
}

func TestCheckComponents(t *testing.T) {
	good := goodComponents()
	k13 := firmware.Measure("kernel", "6.13.0", 8, []byte("kernel image 6.13.0"))
	m11 := signedManifest(t, manifestFor("2026.11", good...))
	m12 := signedManifest(t, manifestFor("2026.12", append(slices.Clone(good), k13)...))
	rootkit := firmware.Measure("kernel", "6.12.8", 8, []byte("kernel image 6.12.8 + rootkit"))
	misplaced := good[2]
	misplaced.PCR = 9
	unnamed := events(good)
	unnamed[2].Data, unnamed[2].Digest = []byte{0xff}, rootkit.Digest
	for _, tc := range []struct {
		name      string
		manifests []*firmware.Manifest
		events    []gattest.Event
		want      []string // "" for each approved component, else the name in the reason
	}{
		{"every component approved", []*firmware.Manifest{m11}, events(good), nil},
		{"tampered kernel", []*firmware.Manifest{m11}, events(withComponent(good, rootkit)), []string{"kernel 6.12.8"}},
		{"approved digest in another PCR", []*firmware.Manifest{m11}, events(withComponent(good, misplaced)), []string{"kernel 6.12.8"}},
		{"unnamed component", []*firmware.Manifest{m11}, unnamed, []string{"an unnamed component"}},
		{"new kernel before its manifest", []*firmware.Manifest{m11}, events(withComponent(good, k13)), []string{"kernel 6.13.0"}},
		{"new kernel during the rollout", []*firmware.Manifest{m11, m12}, events(withComponent(good, k13)), nil},
		{"every unapproved one is named", []*firmware.Manifest{m11}, events(withComponent(withComponent(good, rootkit),
			firmware.Measure(firmware.DaemonComponent, "0.1.0", 9, []byte("patched wardgated")))), []string{"kernel 6.12.8", "wardgated 0.1.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comps, rs := attest.CheckComponents(tc.manifests, tc.events)
			if len(comps) != len(tc.events) {
				t.Fatalf("%d components reported for %d events", len(comps), len(tc.events))
			}
			if len(rs) != len(tc.want) {
				t.Fatalf("reasons = %v, want %d naming %v", rs, len(tc.want), tc.want)
			}
			for i, r := range rs {
				wantReason(t, &r, attest.ReasonComponentUnapproved)
				if !strings.Contains(r.Message, tc.want[i]) {
					t.Fatalf("reason %q does not name %q", r.Message, tc.want[i])
				}
			}
			unmatched := 0
			for _, c := range comps {
				if !c.Matched {
					unmatched++
				} else if c.Manifest == "" {
					t.Fatalf("matched component %+v names no manifest", c)
				}
			}
			if unmatched != len(tc.want) {
				t.Fatalf("%d components unmatched in the report, want %d", unmatched, len(tc.want))
			}
		})
	}
}

func TestCheckPolicy(t *testing.T) {
	approved := func(names ...string) []attest.ReportComponent {
		var out []attest.ReportComponent
		for _, n := range names {
			out = append(out, attest.ReportComponent{Name: n, Matched: true})
		}
		return out
	}
	required := []string{"bootloader", "firmware", "kernel", firmware.DaemonComponent}
	unapprovedKernel := approved("firmware", "bootloader", "kernel", firmware.DaemonComponent)
	unapprovedKernel[2].Matched = false
	for _, tc := range []struct {
		name  string
		comps []attest.ReportComponent
		want  []string
	}{
		{"every required component, daemon last", approved("firmware", "bootloader", "kernel", firmware.DaemonComponent), nil},
		{"required component unapproved", unapprovedKernel, []string{attest.ReasonComponentMissing}},
		{"required component never measured", approved("firmware", "kernel", firmware.DaemonComponent), []string{attest.ReasonComponentMissing}},
		{"something loaded after the daemon", approved("firmware", "bootloader", "kernel", firmware.DaemonComponent, "module"), []string{attest.ReasonDaemonNotLast}},
		{"daemon measured before the kernel", approved("firmware", "bootloader", firmware.DaemonComponent, "kernel"), []string{attest.ReasonDaemonNotLast}},
		{"nothing measured", nil, []string{attest.ReasonComponentMissing, attest.ReasonComponentMissing, attest.ReasonComponentMissing, attest.ReasonComponentMissing, attest.ReasonDaemonNotLast}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := attest.CheckPolicy(required, tc.comps)
			var got []string
			for _, r := range rs {
				if r.Message == "" {
					t.Fatalf("reason %s has no human sentence", r.Code)
				}
				got = append(got, r.Code)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("reasons = %v, want %v", got, tc.want)
			}
		})
	}
}
