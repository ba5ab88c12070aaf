package attest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	gattest "github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/wardgate/wardgate/attest/ima"
	"github.com/wardgate/wardgate/firmware"
)

// Policy is what a verifier demands beyond a genuine, fresh, bound quote
// whose measurements all appear in a signed manifest.
type Policy struct {
	// Version names this policy in reports.
	Version string `json:"version" yaml:"version"`
	// PCRs the quote must cover; DefaultPCRs() if empty.
	PCRs []int `json:"pcrs" yaml:"pcrs"`
	// RequiredComponents must each be measured (and approved); if empty,
	// every component named in the manifests is required.
	RequiredComponents []string `json:"required_components" yaml:"required_components"`
}

// DefaultNonceTTL is how long a verifier nonce stays usable when
// VerifierConfig.NonceTTL is 0; the config's attestation.nonce_ttl default.
const DefaultNonceTTL = 30 * time.Second

// VerifierConfig configures the appraising box.
type VerifierConfig struct {
	Name       string            // this box, as written in reports
	Roots      *x509.CertPool    // manufacturer EK roots (LoadRoots)
	Enrollment map[string]string // peer name -> EK fingerprint (EKFingerprint)
	// Manifests are the reference values. Only manifests whose signature
	// was verified (firmware.LoadManifest/VerifyManifest) are used.
	Manifests       []*firmware.Manifest
	Policy          Policy
	ReportKey       ed25519.PrivateKey // signs reports
	VerdictLifetime time.Duration      // default 10 minutes
	NonceTTL        time.Duration      // default 30 seconds
	Now             func() time.Time   // default time.Now
	Logger          *slog.Logger
	// RuntimePolicy, if set, makes the verifier demand the peer's IMA
	// runtime list, replay it to PCR 10 and appraise every entry. Only a
	// policy whose signature was verified (firmware.LoadRuntimePolicy) is
	// used; any other refuses every peer with ReasonRuntimePolicy.
	RuntimePolicy *firmware.RuntimePolicy
}

// Verifier appraises peers. It is safe for concurrent use.
type Verifier struct {
	cfg       VerifierConfig
	log       *slog.Logger
	manifests []*firmware.Manifest
	required  []string
	pcrs      []int
	runtime   *firmware.RuntimePolicy

	mu      sync.Mutex
	peers   map[string]*peerState
	nonces  map[string]nonceEntry // peer -> its current nonce, issued and unused
	used    map[string]time.Time  // used nonce -> forget after
	retired map[string]time.Time  // nonce superseded by a newer one -> forget after
	batches spentBatches          // batched quotes taken, per peer
}

type peerState struct {
	ekFP    string
	pending *pendingActivation
	ak      *gattest.AKPublic
	refusal *Reason    // why identity/activation was refused, if it was
	runtime runtimePos // how far the peer's runtime list is verified
	id      *Identity  // the identity whose AK was activated
}

type pendingActivation struct {
	secret []byte
	ak     *gattest.AKPublic
	ekFP   string
	id     *Identity // as presented, for Knows
}

type nonceEntry struct {
	nonce  string
	issued time.Time
}

// NewVerifier checks the configuration and builds a verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Name == "" {
		return nil, errors.New("attest: verifier: Name is empty; set this box's name")
	}
	if cfg.Roots == nil {
		return nil, errors.New("attest: verifier: Roots is nil; load manufacturer roots with LoadRoots")
	}
	if len(cfg.ReportKey) != ed25519.PrivateKeySize {
		return nil, errors.New("attest: verifier: ReportKey is not an Ed25519 private key")
	}
	if cfg.VerdictLifetime <= 0 {
		cfg.VerdictLifetime = 10 * time.Minute
	}
	if cfg.NonceTTL <= 0 {
		cfg.NonceTTL = DefaultNonceTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{
		cfg:     cfg,
		log:     cfg.Logger,
		peers:   map[string]*peerState{},
		nonces:  map[string]nonceEntry{},
		used:    map[string]time.Time{},
		retired: map[string]time.Time{},
		batches: spentBatches{},
		pcrs:    slices.Clone(cfg.Policy.PCRs),
		runtime: cfg.RuntimePolicy,
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if len(v.pcrs) == 0 {
		v.pcrs = DefaultPCRs()
	}
	if v.runtime != nil && !slices.Contains(v.pcrs, ima.PCR) {
		v.pcrs = append(v.pcrs, ima.PCR)
	}
	sort.Ints(v.pcrs)
	names := map[string]bool{}
	for _, m := range cfg.Manifests {
		if m == nil {
			continue
		}
		if !m.Verified() {
			v.log.Warn("ignoring manifest without a verified signature", "vendor", m.Vendor, "version", m.Version)
			continue
		}
		v.manifests = append(v.manifests, m)
		for _, n := range m.Names() {
			names[n] = true
		}
	}
	v.required = slices.Clone(cfg.Policy.RequiredComponents)
	if len(v.required) == 0 {
		for n := range names {
			v.required = append(v.required, n)
		}
	}
	sort.Strings(v.required)
	return v, nil
}

// PublicKey is the key that verifies this verifier's reports.
func (v *Verifier) PublicKey() ed25519.PublicKey {
	return v.cfg.ReportKey.Public().(ed25519.PublicKey)
}

func (v *Verifier) state(peer string) *peerState {
	st := v.peers[peer]
	if st == nil {
		st = &peerState{}
		v.peers[peer] = st
	}
	return st
}

func (v *Verifier) refuseIdentity(peer string, r *RefusalError, ekFP ...string) error {
	v.mu.Lock()
	st := v.state(peer)
	st.ak, st.pending = nil, nil
	if len(ekFP) > 0 {
		st.ekFP = ekFP[0] // so the refusal's report says which device it was
	}
	st.refusal = &r.Reason
	v.mu.Unlock()
	v.log.Warn("peer identity refused", "peer", peer, "reason", r.Reason.Code, "detail", r.Reason.Message)
	return r
}

var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// Challenge checks the peer's EK certificate against the manufacturer roots
// and the enrollment list, and returns a MakeCredential challenge for its
// AK. Refusals are *RefusalError (ReasonCode gives the code).
func (v *Verifier) Challenge(ctx context.Context, peer string, id *Identity) (*Challenge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if id == nil || len(id.EKCert) == 0 {
		return nil, v.refuseIdentity(peer, refuse(ReasonIdentityMalformed, "identity has no EK certificate"))
	}
	cert, err := gattest.ParseEKCertificate(id.EKCert)
	if err != nil {
		return nil, v.refuseIdentity(peer, refuse(ReasonIdentityMalformed, "EK certificate does not parse: %v", err))
	}
	fp, err := EKFingerprint(cert.PublicKey)
	if err != nil {
		return nil, v.refuseIdentity(peer, refuse(ReasonIdentityMalformed, "EK public key: %v", err))
	}
	// TPM EK certificates carry a critical SAN with TPM attributes that
	// crypto/x509 does not handle; the chain is what matters here.
	cert.UnhandledCriticalExtensions = slices.DeleteFunc(cert.UnhandledCriticalExtensions,
		func(o asn1.ObjectIdentifier) bool { return o.Equal(oidSAN) })
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       v.cfg.Roots,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		CurrentTime: v.cfg.Now(),
	}); err != nil {
		return nil, v.refuseIdentity(peer, refuse(ReasonEKUnknownCA, "EK certificate %q does not chain to a trusted manufacturer root: %v", cert.Subject.CommonName, err), fp)
	}
	if want, ok := v.cfg.Enrollment[peer]; !ok || want != fp {
		if !ok {
			return nil, v.refuseIdentity(peer, refuse(ReasonDeviceUnenrolled, "peer %q is not on the enrollment list (its EK is %s)", peer, fp), fp)
		}
		return nil, v.refuseIdentity(peer, refuse(ReasonDeviceUnenrolled, "peer %q presented EK %s, but %s is enrolled", peer, fp, want), fp)
	}
	akPub, err := gattest.ParseAKPublic(id.AK.Public)
	if err != nil {
		return nil, v.refuseIdentity(peer, refuse(ReasonAKInvalid, "AK public area: %v", err), fp)
	}
	ap := gattest.ActivationParameters{
		EK: cert.PublicKey,
		AK: gattest.AttestationParameters{
			Public: id.AK.Public, CreateData: id.AK.CreateData,
			CreateAttestation: id.AK.CreateAttestation, CreateSignature: id.AK.CreateSignature,
		},
	}
	secret, ec, err := ap.Generate()
	if err != nil {
		return nil, v.refuseIdentity(peer, refuse(ReasonAKInvalid, "AK is not a TPM-created restricted signing key: %v", err), fp)
	}
	v.mu.Lock()
	st := v.state(peer)
	st.pending = &pendingActivation{secret: secret, ak: akPub, ekFP: fp, id: id}
	v.mu.Unlock()
	return &Challenge{Version: ProtocolVersion, Credential: ec.Credential, Secret: ec.Secret}, nil
}

// Activate checks the secret the peer's TPM recovered. On success the AK
// is remembered for the peer's evidence; otherwise the peer is refused
// with ReasonActivationFailed until it enrolls again.
func (v *Verifier) Activate(ctx context.Context, peer string, resp *ChallengeResponse) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.mu.Lock()
	st := v.state(peer)
	p := st.pending
	st.pending = nil
	v.mu.Unlock()
	if p == nil {
		return v.refuseIdentity(peer, refuse(ReasonActivationFailed, "no challenge is outstanding for peer %q", peer))
	}
	if resp == nil || subtle.ConstantTimeCompare(resp.Secret, p.secret) != 1 {
		return v.refuseIdentity(peer, refuse(ReasonActivationFailed, "credential activation failed: the AK is not in the TPM of EK %s", p.ekFP), p.ekFP)
	}
	v.mu.Lock()
	// A new AK is a new boot: its runtime list starts again from entry 0.
	st.ak, st.ekFP, st.refusal, st.runtime, st.id = p.ak, p.ekFP, nil, runtimePos{}, p.id
	v.mu.Unlock()
	v.log.Info("peer AK activated", "peer", peer, "ek", p.ekFP)
	return nil
}

// Knows says whether id is exactly the identity (EK certificate and AK)
// whose AK this verifier has already activated for peer, with no refusal
// since. Activation proved that this AK lives beside this EK; a peer that
// restarted with the same AK (it keeps its AK blob) need not prove it
// again, and only its TPM can sign quotes with it. With N peers hello-ing
// at once, re-activating each costs the box N slow TPM activations.
func (v *Verifier) Knows(peer string, id *Identity) bool {
	if id == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.peers[peer]
	return st != nil && st.ak != nil && st.refusal == nil && st.id != nil &&
		bytes.Equal(st.id.EKCert, id.EKCert) && bytes.Equal(st.id.AK.Public, id.AK.Public)
}

// Nonce issues a fresh single-use nonce for the peer's next round. It
// retires the peer's earlier nonces: only the newest is ever accepted, so
// evidence fetched for an earlier round cannot be spent in a later one.
func (v *Verifier) Nonce(peer string) ([]byte, error) {
	n := make([]byte, 32)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("attest: nonce: %w", err)
	}
	now := v.cfg.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.prune(now)
	if old, ok := v.nonces[peer]; ok {
		v.retired[old.nonce] = now.Add(4 * v.cfg.NonceTTL)
	}
	v.nonces[peer] = nonceEntry{nonce: string(n), issued: now}
	return n, nil
}

// prune forgets used and retired nonces once they are long past their
// TTL; until then they are reported as replayed or superseded rather than
// unknown.
func (v *Verifier) prune(now time.Time) {
	if len(v.used)+len(v.retired) < 1024 {
		return
	}
	for _, m := range []map[string]time.Time{v.used, v.retired} {
		for k, t := range m {
			if now.After(t) {
				delete(m, k)
			}
		}
	}
}

// consumeNonce spends the round's nonce, which must be the peer's current
// one, and checks that the evidence quotes it. It says why either is
// unacceptable, if one is.
func (v *Verifier) consumeNonce(peer string, round, quoted []byte, now time.Time) *Reason {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.nonces[peer]
	if !ok || e.nonce != string(round) {
		return v.nonceReason(round, "the round's nonce")
	}
	delete(v.nonces, peer)
	v.used[e.nonce] = now.Add(4 * v.cfg.NonceTTL)
	if !bytes.Equal(quoted, round) {
		return v.nonceReason(quoted, "the evidence quotes a nonce other than this round's; it")
	}
	if age := now.Sub(e.issued); age > v.cfg.NonceTTL {
		return &Reason{ReasonNonceStale, fmt.Sprintf("the nonce is %s old; the limit is %s", age.Round(time.Millisecond), v.cfg.NonceTTL)}
	}
	return nil
}

// nonceReason says why nonce n, which is not the peer's current one, is
// refused. Called with v.mu held.
func (v *Verifier) nonceReason(n []byte, what string) *Reason {
	if _, ok := v.used[string(n)]; ok {
		return &Reason{ReasonNonceReplayed, what + " was already used by an earlier appraisal"}
	}
	if _, ok := v.retired[string(n)]; ok {
		return &Reason{ReasonNonceSuperseded, what + " was superseded by a newer nonce issued to this peer"}
	}
	return &Reason{ReasonNonceUnknown, what + " is not the current nonce this verifier issued to this peer"}
}

// AppraiseBytes parses evidence from the wire and appraises it against the
// round's nonce; garbage or truncated bytes give a failing verdict with
// ReasonEvidenceMalformed.
func (v *Verifier) AppraiseBytes(ctx context.Context, peer string, nonce, data []byte, wgKey [32]byte, recordKey ed25519.PublicKey) (*Verdict, *Report, error) {
	ev, err := ParseEvidence(data)
	if err != nil {
		return v.Malformed(peer, ReasonEvidenceMalformed, err.Error())
	}
	return v.Appraise(ctx, peer, nonce, ev, wgKey, recordKey)
}

// Malformed is the failing verdict and signed report for a peer whose
// answer could not be appraised at all (code is ReasonEvidenceMalformed or
// ReasonIdentityMalformed), so that a misbehaving peer is refused and
// reported like any other, not just retried.
func (v *Verifier) Malformed(peer, code, detail string) (*Verdict, *Report, error) {
	a := v.newAppraisal(peer, [32]byte{}, nil)
	a.fail(code, "%s", detail)
	return v.finish(a)
}

type appraisal struct {
	now     time.Time
	report  *Report
	reasons []Reason
	wgKey   [32]byte
	rk      ed25519.PublicKey
}

func (a *appraisal) fail(code, format string, args ...any) {
	a.reasons = append(a.reasons, Reason{Code: code, Message: fmt.Sprintf(format, args...)})
}

func (v *Verifier) newAppraisal(peer string, wgKey [32]byte, rk ed25519.PublicKey) *appraisal {
	now := v.cfg.Now()
	id := make([]byte, 16)
	rand.Read(id)
	r := &Report{
		ID:               hex.EncodeToString(id),
		Verifier:         v.cfg.Name,
		Peer:             peer,
		Time:             now.UTC(),
		PolicyVersion:    v.cfg.Policy.Version,
		WireGuardKey:     base64.StdEncoding.EncodeToString(wgKey[:]),
		RecordKey:        base64.StdEncoding.EncodeToString(rk),
		PCRs:             []ReportPCR{},
		Components:       []ReportComponent{},
		ManifestVersions: []string{},
	}
	v.mu.Lock()
	if st := v.peers[peer]; st != nil {
		r.EKFingerprint = st.ekFP
	}
	v.mu.Unlock()
	for _, m := range v.manifests {
		r.ManifestVersions = append(r.ManifestVersions, m.Vendor+"/"+m.Version)
	}
	return &appraisal{now: now, report: r, wgKey: wgKey, rk: slices.Clone(rk)}
}

func (v *Verifier) finish(a *appraisal) (*Verdict, *Report, error) {
	r := a.report
	r.Pass = len(a.reasons) == 0
	r.Reasons = a.reasons
	if r.Reasons == nil {
		r.Reasons = []Reason{}
	}
	if r.Pass {
		r.Expiry = a.now.Add(v.cfg.VerdictLifetime).UTC()
	} else {
		r.Expiry = r.Time
	}
	if err := r.sign(v.cfg.ReportKey); err != nil {
		return nil, nil, err
	}
	vd := &Verdict{
		peer:      r.Peer,
		pass:      r.Pass,
		reasons:   slices.Clone(a.reasons),
		wgKey:     a.wgKey,
		recordKey: a.rk,
		issued:    a.now,
		expiry:    r.Expiry,
		reportID:  r.ID,
	}
	if !r.Pass {
		v.log.Warn("appraisal failed", "peer", r.Peer, "report", r.ID, "reasons", reasonCodes(a.reasons))
	}
	return vd, r, nil
}

func reasonCodes(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// Appraise checks evidence in DESIGN.md's order: the AK and its activation
// and the quote signature; the nonce and the bound keys; the event log
// replayed against the quoted PCRs; every measured component against the
// signed manifests; the policy. nonce is the round's own (from Nonce): the
// evidence must quote it, and it must still be the peer's newest. A
// refusal is a failing verdict and report, not an error; err is only for
// internal failures.
func (v *Verifier) Appraise(ctx context.Context, peer string, nonce []byte, ev *Evidence, wgKey [32]byte, recordKey ed25519.PublicKey) (*Verdict, *Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	a := v.newAppraisal(peer, wgKey, recordKey)
	v.appraise(a, peer, nonce, ev, wgKey, recordKey)
	return v.finish(a)
}

// appraise runs the checks in DESIGN.md's order. Each returns the reason an
// attacker would see; the first refusal ends the appraisal, except that
// every unapproved component and every policy failure is reported.
func (v *Verifier) appraise(a *appraisal, peer string, nonce []byte, ev *Evidence, wgKey [32]byte, recordKey ed25519.PublicKey) {
	if a.failed(checkWellFormed(ev)) {
		return
	}
	a.report.Nonce = hex.EncodeToString(ev.Nonce)

	// 1. The AK, its activation and the quote signature.
	ak, r := v.activatedAK(peer)
	if a.failed(r) {
		return
	}
	att, r := checkQuote(ak, ev)
	if a.failed(r) {
		return
	}

	// 2. The TLS channel binding, a batched quote's own checks, then the
	// nonce (fresh, single use) and the bound keys.
	leaf, answered, r := checkChannel(nonce, ev)
	if a.failed(r) {
		return
	}
	if ev.Batch != nil && a.failed(v.checkBatch(peer, leaf, ev, att, a.now)) {
		return
	}
	if a.failed(v.consumeNonce(peer, nonce, answered, a.now)) || a.failed(checkBinding(ev, att, wgKey, recordKey)) {
		return
	}

	// 3. The PCR values, then the event log replayed against them.
	pcrs, r := checkPCRs(v.pcrs, ev, att)
	a.reportPCRs(pcrs)
	if a.failed(r) {
		return
	}
	events, r := checkEventLog(ev.EventLog, bootPCRs(pcrs))
	if a.failed(r) {
		return
	}

	// 4. Every measured component against the signed manifests.
	if a.failed(checkManifests(v.manifests)) {
		return
	}
	comps, unapproved := checkComponents(v.manifests, events)
	a.report.Components = append(a.report.Components, comps...)
	a.reasons = append(a.reasons, unapproved...)

	// 5. The policy.
	a.reasons = append(a.reasons, checkPolicy(v.required, comps)...)

	// 6. What ran since boot: the runtime list against the runtime policy.
	a.reasons = append(a.reasons, v.checkRuntime(peer, ev, pcrs)...)
}

// failed records r, if there is one, and says whether it was.
func (a *appraisal) failed(r *Reason) bool {
	if r == nil {
		return false
	}
	a.reasons = append(a.reasons, *r)
	return true
}

func (a *appraisal) reportPCRs(pcrs []gattest.PCR) {
	for _, p := range pcrs {
		a.report.PCRs = append(a.report.PCRs, ReportPCR{Index: p.Index, SHA256: hex.EncodeToString(p.Digest)})
	}
}

func reasonf(code, format string, args ...any) *Reason {
	return &Reason{Code: code, Message: fmt.Sprintf(format, args...)}
}

// checkWellFormed refuses missing or structurally invalid evidence before
// any cryptography is spent on it.
func checkWellFormed(ev *Evidence) *Reason {
	if ev == nil {
		return reasonf(ReasonEvidenceMalformed, "no evidence")
	}
	if err := ev.check(); err != nil {
		return reasonf(ReasonEvidenceMalformed, "%v", err)
	}
	return nil
}

// activatedAK is the AK the peer proved, by credential activation, to live
// in its enrolled TPM. An identity refusal is repeated here, so that every
// appraisal of a refused peer says why it was refused.
func (v *Verifier) activatedAK(peer string) (*gattest.AKPublic, *Reason) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.peers[peer]
	if st != nil && st.refusal != nil {
		r := *st.refusal
		return nil, &r
	}
	if st == nil || st.ak == nil {
		return nil, reasonf(ReasonNotActivated, "peer %q has no activated attestation key; run enrollment (identity, challenge, activation) first", peer)
	}
	return st.ak, nil
}

// checkQuote verifies the quote's signature under the activated AK, then
// that it is a quote of the SHA-256 bank: nothing in it is worth reading
// before the signature holds.
func checkQuote(ak *gattest.AKPublic, ev *Evidence) (*tpm2.AttestationData, *Reason) {
	if err := verifyQuoteSignatureCached(ak, ev.Quote, ev.Signature); err != nil {
		return nil, reasonf(ReasonQuoteSignature, "%v", err)
	}
	att, err := tpm2.DecodeAttestationData(ev.Quote)
	if err != nil || att.Type != tpm2.TagAttestQuote || att.AttestedQuoteInfo == nil {
		return nil, reasonf(ReasonEvidenceMalformed, "signed data is not a TPM quote")
	}
	if ev.HashAlg != "sha256" || att.AttestedQuoteInfo.PCRSelection.Hash != tpm2.AlgSHA256 {
		return nil, reasonf(ReasonSHA1Only, "the evidence quotes the %s PCR bank; SHA-256 PCRs are required", ev.HashAlg)
	}
	return att, nil
}

// checkBinding ties the quote to this channel: its extraData must bind the
// evidence's nonce and keys, and those must be the keys the peer presented,
// or the evidence was relayed from another box.
func checkBinding(ev *Evidence, att *tpm2.AttestationData, wgKey [32]byte, recordKey ed25519.PublicKey) *Reason {
	var evKey [32]byte
	copy(evKey[:], ev.WireGuardKey)
	want := BindingData(ev.Nonce, evKey, ev.RecordKey)
	if ev.Batch != nil {
		// The nonce is bound through the root (checkBatch proved it a leaf).
		want = BatchBindingData(ev.Batch.Root, evKey, ev.RecordKey)
	}
	if !bytes.Equal(att.ExtraData, want) {
		return reasonf(ReasonQuoteBinding, "the quote's extraData does not bind the evidence's nonce and keys")
	}
	if evKey != wgKey || !bytes.Equal(ev.RecordKey, recordKey) {
		return reasonf(ReasonBoundKeyMismatch, "the keys bound in the quote differ from the WireGuard/record keys this peer presented")
	}
	return nil
}

// checkPCRs checks that the quote covers the policy PCRs and that the
// evidence's PCR values are the quoted ones (the quote signs only their
// digest). It returns the values gathered, for the report, even on refusal.
func checkPCRs(policy []int, ev *Evidence, att *tpm2.AttestationData) ([]gattest.PCR, *Reason) {
	sel := slices.Clone(att.AttestedQuoteInfo.PCRSelection.PCRs)
	sort.Ints(sel)
	for _, p := range policy {
		if !slices.Contains(sel, p) {
			return nil, reasonf(ReasonPCRSelection, "the quote does not cover PCR %d required by policy", p)
		}
	}
	byIndex := map[int][]byte{}
	for _, p := range ev.PCRs {
		if len(p.Digest) == sha256.Size {
			byIndex[p.Index] = p.Digest
		}
	}
	h := sha256.New()
	var pcrs []gattest.PCR
	for _, i := range sel {
		d, ok := byIndex[i]
		if !ok {
			return pcrs, reasonf(ReasonPCRMismatch, "the evidence has no SHA-256 value for quoted PCR %d", i)
		}
		h.Write(d)
		pcrs = append(pcrs, gattest.PCR{Index: i, Digest: d, DigestAlg: crypto.SHA256})
	}
	if !bytes.Equal(h.Sum(nil), att.AttestedQuoteInfo.PCRDigest) {
		return pcrs, reasonf(ReasonPCRMismatch, "the PCR values in the evidence are not the ones the TPM quoted")
	}
	return pcrs, nil
}

// checkEventLog replays the event log against the quoted PCRs. Only a log
// that replays says what was measured, so its events are returned for the
// manifest check.
func checkEventLog(raw []byte, pcrs []gattest.PCR) ([]gattest.Event, *Reason) {
	el, err := gattest.ParseEventLog(raw)
	if err != nil {
		return nil, reasonf(ReasonEventLogMalformed, "event log: %v", err)
	}
	events, err := el.Verify(pcrs)
	if err != nil {
		var re gattest.ReplayError
		if errors.As(err, &re) {
			return nil, reasonf(ReasonEventLogMismatch, "the event log does not replay to the quoted values of PCRs %v", re.InvalidPCRs)
		}
		return nil, reasonf(ReasonEventLogMismatch, "the event log does not replay to the quoted PCRs: %v", err)
	}
	return events, checkNoHiddenExtends(pcrs, events)
}

// checkNoHiddenExtends closes the gap replay leaves: a PCR with no events
// replays trivially, so it must still be at its reset value, or
// measurements were hidden from the log.
func checkNoHiddenExtends(pcrs []gattest.PCR, events []gattest.Event) *Reason {
	measured := map[int]bool{}
	for _, e := range events {
		measured[e.Index] = true
	}
	zero := make([]byte, sha256.Size)
	for _, p := range pcrs {
		if !measured[p.Index] && !bytes.Equal(p.Digest, zero) {
			return reasonf(ReasonEventLogMismatch, "PCR %d was extended but the event log has no events for it", p.Index)
		}
	}
	return nil
}

// checkManifests refuses when no reference values are trusted, rather than
// calling every component unapproved.
func checkManifests(ms []*firmware.Manifest) *Reason {
	if len(ms) == 0 {
		return reasonf(ReasonManifestSignature, "no reference manifest with a valid vendor signature is configured")
	}
	return nil
}

// checkComponents looks every measured component up in the signed
// manifests. An unapproved one does not stop the appraisal: the report
// names every component, and the reasons every unapproved one.
func checkComponents(ms []*firmware.Manifest, events []gattest.Event) ([]ReportComponent, []Reason) {
	var comps []ReportComponent
	var unapproved []Reason
	for _, e := range events {
		rc := lookupComponent(ms, e)
		comps = append(comps, rc)
		if !rc.Matched {
			label := rc.Name
			if label == "" {
				label = "an unnamed component"
			}
			unapproved = append(unapproved, *reasonf(ReasonComponentUnapproved, "%s %s measured into PCR %d (sha256 %s) is not approved by any manifest", label, rc.Version, e.Index, rc.Digest))
		}
	}
	return comps, unapproved
}

// lookupComponent names a measurement by the first manifest that approves
// its digest in its PCR, or else by the event's own (untrusted) data.
func lookupComponent(ms []*firmware.Manifest, e gattest.Event) ReportComponent {
	name, version, _ := firmware.ParseEventData(e.Data)
	rc := ReportComponent{Name: name, Version: version, PCR: e.Index, Digest: hex.EncodeToString(e.Digest)}
	for _, m := range ms {
		if c, ok := m.Lookup(e.Digest); ok && c.PCR == e.Index {
			rc.Name, rc.Version, rc.Matched, rc.Manifest = c.Name, c.Version, true, m.Vendor+"/"+m.Version
			break
		}
	}
	return rc
}

// checkPolicy demands an approved measurement of every required component,
// and the wardgated binary measured last, so that nothing unmeasured was
// loaded after it.
func checkPolicy(required []string, comps []ReportComponent) []Reason {
	seen := map[string]bool{}
	var last string
	for _, c := range comps {
		if c.Matched {
			seen[c.Name] = true
		}
		last = c.Name
	}
	var out []Reason
	for _, n := range required {
		if !seen[n] {
			out = append(out, *reasonf(ReasonComponentMissing, "policy requires an approved %q measurement and none was found", n))
		}
	}
	if last != firmware.DaemonComponent {
		out = append(out, *reasonf(ReasonDaemonNotLast, "the last measurement is %q, not the %s binary", last, firmware.DaemonComponent))
	}
	return out
}

func verifyQuoteSignature(ak *gattest.AKPublic, quote, sigBytes []byte) error {
	sig, err := tpm2.DecodeSignature(bytes.NewBuffer(sigBytes))
	if err != nil {
		return fmt.Errorf("quote signature does not decode: %w", err)
	}
	if !ak.Hash.Available() {
		return errors.New("AK hash is unavailable")
	}
	hh := ak.Hash.New()
	hh.Write(quote)
	digest := hh.Sum(nil)
	switch pub := ak.Public.(type) {
	case *rsa.PublicKey:
		if sig.RSA == nil {
			return errors.New("quote signature is not RSA but the AK is")
		}
		if err := rsa.VerifyPKCS1v15(pub, ak.Hash, digest, sig.RSA.Signature); err != nil {
			return errors.New("quote signature does not verify under the activated AK")
		}
	case *ecdsa.PublicKey:
		if sig.ECC == nil {
			return errors.New("quote signature is not ECDSA but the AK is")
		}
		if !ecdsa.Verify(pub, digest, sig.ECC.R, sig.ECC.S) {
			return errors.New("quote signature does not verify under the activated AK")
		}
	default:
		return fmt.Errorf("unsupported AK type %T", pub)
	}
	return nil
}
