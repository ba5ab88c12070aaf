package attest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	gattest "github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/wardgate/wardgate/attest/ima"
	"github.com/wardgate/wardgate/internal/atomicfile"
)

// AttesterConfig configures the box being appraised.
type AttesterConfig struct {
	// StateDir keeps the AK blob (StateDir/ak.blob) so the AK, and so the
	// verifier's activation, survives restarts. Empty keeps it in memory.
	StateDir string
	// EventLog is the boot's TCG event log: firmware.Boot's output for a
	// simulated TPM, or nil to read the platform log (device).
	EventLog []byte
	// PCRs to quote; DefaultPCRs() if empty.
	PCRs []int
	// Bank is "sha256" (default). "sha1" quotes the SHA-1 bank, as old
	// TPMs do; verifiers refuse such evidence.
	Bank   string
	Logger *slog.Logger
	// Runtime, if set, is the box's IMA runtime measurement list, sent
	// with each evidence from the position the verifier asks. Quote PCR
	// 10 (ima.PCR) with it.
	Runtime RuntimeSource
}

// Attester produces identity and evidence from a TPM.
type Attester struct {
	t      *tpmConn
	cfg    AttesterConfig
	ek     gattest.EK
	ekFP   string
	ak     *gattest.AK
	log    *slog.Logger
	evlog  []byte
	bank   gattest.HashAlg
	params AKParams
	quotes atomic.Uint64
}

var akConfig = &gattest.AKConfig{
	Algorithm: gattest.ECDSA,
	Parent:    &gattest.ParentKeyConfig{Algorithm: gattest.ECDSA, Handle: akParent},
}

// NewAttester reads the TPM's EK certificate and loads (or creates) the AK.
func NewAttester(ctx context.Context, t TPM, cfg AttesterConfig) (*Attester, error) {
	if t == nil {
		return nil, errors.New("attest: new attester: nil TPM")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := &Attester{t: t.conn(), cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if len(a.cfg.PCRs) == 0 {
		a.cfg.PCRs = DefaultPCRs()
	}
	switch cfg.Bank {
	case "", "sha256":
		a.bank = gattest.HashSHA256
	case "sha1":
		a.bank = gattest.HashSHA1
	default:
		return nil, fmt.Errorf("attest: new attester: bank %q is not \"sha256\" or \"sha1\"", cfg.Bank)
	}
	c := a.t
	defer c.lock()()
	eks, err := c.at.EKCertificates()
	if err != nil {
		return nil, fmt.Errorf("attest: new attester: read EK certificates: %w", err)
	}
	for _, ek := range eks {
		if ek.Certificate != nil {
			a.ek = ek
			break
		}
	}
	if a.ek.Certificate == nil {
		return nil, errors.New("attest: new attester: the TPM has no EK certificate in NV; provision one (devtpm.DevCA.ProvisionEK for simulated TPMs)")
	}
	if a.ekFP, err = EKFingerprint(a.ek.Public); err != nil {
		return nil, err
	}
	if a.ak, err = a.loadAK(); err != nil {
		return nil, err
	}
	p := a.ak.AttestationParameters()
	a.params = AKParams{Public: p.Public, CreateData: p.CreateData, CreateAttestation: p.CreateAttestation, CreateSignature: p.CreateSignature}
	if cfg.EventLog != nil {
		a.evlog = slices.Clone(cfg.EventLog)
	} else if c.measurementLog != nil {
		if a.evlog, err = c.measurementLog(); err != nil {
			return nil, fmt.Errorf("attest: new attester: read event log: %w", err)
		}
	} else {
		return nil, errors.New("attest: new attester: no event log; pass firmware.Boot's log in AttesterConfig.EventLog")
	}
	a.log.Info("attester ready", "tpm", c.kind, "ek", a.ekFP)
	return a, nil
}

// ensureAKParent makes the AK's parent a persistent ECC storage key in the
// owner hierarchy. (go-attestation would create it under the endorsement
// hierarchy, whose child blobs the simulator does not accept after a
// restart; owner-hierarchy primaries derive only from the persisted seed.)
func (c *tpmConn) ensureAKParent() error {
	if _, _, _, err := tpm2.ReadPublic(c.rw, akParent); err == nil {
		return nil
	}
	h, _, err := tpm2.CreatePrimary(c.rw, tpm2.HandleOwner, tpm2.PCRSelection{}, "", "", sealTemplate)
	if err != nil {
		return fmt.Errorf("attest: create AK parent: %w", err)
	}
	defer tpm2.FlushContext(c.rw, h)
	if err := tpm2.EvictControl(c.rw, "", tpm2.HandleOwner, h, akParent); err != nil {
		return fmt.Errorf("attest: persist AK parent at %#x: %w", akParent, err)
	}
	return nil
}

func (a *Attester) loadAK() (*gattest.AK, error) {
	c := a.t
	if err := c.ensureAKParent(); err != nil {
		return nil, err
	}
	var path string
	if a.cfg.StateDir != "" {
		path = filepath.Join(a.cfg.StateDir, "ak.blob")
		if blob, err := os.ReadFile(path); err == nil {
			ak, err := c.at.LoadAKWithParent(blob, *akConfig.Parent)
			if err == nil {
				return ak, nil
			}
			a.log.Warn("stored AK does not load; creating a new one (peers must re-activate it)", "err", err)
		}
	}
	ak, err := c.at.NewAK(akConfig)
	if err != nil {
		return nil, fmt.Errorf("attest: create AK: %w", err)
	}
	if path != "" {
		blob, err := ak.Marshal()
		if err != nil {
			return nil, fmt.Errorf("attest: marshal AK: %w", err)
		}
		if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
			return nil, err
		}
		if err := atomicfile.Write(path, blob, 0o600); err != nil {
			return nil, fmt.Errorf("attest: store AK: %w", err)
		}
	}
	return ak, nil
}

// EKFingerprint is this TPM's enrollment identity ("sha256:<hex>").
func (a *Attester) EKFingerprint() string { return a.ekFP }

// EventLog is the event log sent in evidence.
func (a *Attester) EventLog() []byte { return slices.Clone(a.evlog) }

// Identity returns the EK certificate and AK parameters for enrollment.
func (a *Attester) Identity(ctx context.Context) (*Identity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Identity{Version: ProtocolVersion, EKCert: slices.Clone(a.ek.Certificate.Raw), AK: a.params}, nil
}

// ActivateCredential recovers the verifier's secret; the TPM only releases
// it if the AK and the EK are in this same TPM.
func (a *Attester) ActivateCredential(ctx context.Context, ch *Challenge) (*ChallengeResponse, error) {
	if ch == nil {
		return nil, errors.New("attest: activate: nil challenge")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	defer a.t.lock()()
	secret, err := a.ak.ActivateCredentialWithEK(a.t.at, gattest.EncryptedCredential{Credential: ch.Credential, Secret: ch.Secret}, a.ek)
	if err != nil {
		return nil, fmt.Errorf("attest: activate credential: %w", err)
	}
	return &ChallengeResponse{Version: ProtocolVersion, Secret: secret}, nil
}

// BindingData is the quote's extraData:
// SHA-256("wardgate/attest/v1" || nonce || wgKey || recordKey).
func BindingData(nonce []byte, wgKey [32]byte, recordKey ed25519.PublicKey) []byte {
	h := sha256.New()
	h.Write([]byte(ProtocolVersion))
	h.Write(nonce)
	h.Write(wgKey[:])
	h.Write(recordKey)
	return h.Sum(nil)
}

// Evidence quotes the policy PCRs bound to the verifier's nonce and this
// box's WireGuard and record keys.
func (a *Attester) Evidence(ctx context.Context, nonce []byte, wgKey [32]byte, recordKey ed25519.PublicKey) (*Evidence, error) {
	if err := checkNonceBounds(nonce); err != nil {
		return nil, fmt.Errorf("attest: evidence: %w", err)
	}
	if len(recordKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("attest: evidence: record key is %d bytes, want %d", len(recordKey), ed25519.PublicKeySize)
	}
	ev, err := a.quote(ctx, BindingData(nonce, wgKey, recordKey), wgKey, recordKey)
	if err != nil {
		return nil, err
	}
	ev.Nonce = slices.Clone(nonce)
	return ev, nil
}

// BatchRequest is one verifier's challenge in a batch: its nonce and the
// runtime-list position it has verified.
type BatchRequest struct {
	Nonce       []byte
	RuntimeFrom uint64
}

// BatchEvidence answers every request of one window with one quote: the
// nonces are the leaves of a Merkle tree whose root the quote binds, and
// each answer carries the quote and the inclusion proof of its own nonce.
// Answers are in the order of reqs.
func (a *Attester) BatchEvidence(ctx context.Context, reqs []BatchRequest, wgKey [32]byte, recordKey ed25519.PublicKey) ([]*Evidence, error) {
	nonces := make([][]byte, len(reqs))
	for i, r := range reqs {
		nonces[i] = slices.Clone(r.Nonce)
	}
	if err := checkBatchRequest(nonces, recordKey); err != nil {
		return nil, err
	}
	tree := nonceTree{leaves: nonces}
	root := tree.root()
	base, err := a.quote(ctx, BatchBindingData(root, wgKey, recordKey), wgKey, recordKey)
	if err != nil {
		return nil, err
	}
	out := make([]*Evidence, len(reqs))
	for i, r := range reqs {
		ev := *base
		ev.Version = BatchProtocolVersion
		ev.Nonce = nonces[i]
		ev.Batch = &BatchProof{Root: root, Index: uint64(i), Size: uint64(len(nonces)), Path: tree.path(i)}
		if ev.Runtime, err = a.runtimeSince(r.RuntimeFrom); err != nil {
			return nil, err
		}
		out[i] = &ev
	}
	return out, nil
}

// RuntimeSince sets the runtime list of single-quote evidence from the
// verifier's position (Evidence itself does not know it).
func (a *Attester) RuntimeSince(ev *Evidence, from uint64) error {
	var err error
	ev.Runtime, err = a.runtimeSince(from)
	return err
}

// runtimeSince reads the runtime list after the quote: it may then run
// ahead of the quoted PCR 10, and the verifier replays the prefix the
// quote covers.
func (a *Attester) runtimeSince(from uint64) (*RuntimeLog, error) {
	if a.cfg.Runtime == nil {
		return nil, nil
	}
	b, err := a.cfg.Runtime.Since(from)
	if errors.Is(err, ima.ErrPastEnd) {
		// A verifier that last saw an earlier boot: send this boot's whole
		// list, which it replays from the start.
		from = 0
		b, err = a.cfg.Runtime.Since(0)
	}
	if err != nil {
		return nil, fmt.Errorf("attest: runtime list: %w", err)
	}
	return &RuntimeLog{From: from, Entries: b}, nil
}

// Quotes is how many quotes this attester has asked its TPM for.
func (a *Attester) Quotes() uint64 { return a.quotes.Load() }

// quote quotes the configured PCRs with extraData and reads their values.
func (a *Attester) quote(ctx context.Context, extraData []byte, wgKey [32]byte, recordKey ed25519.PublicKey) (*Evidence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	defer a.t.lock()()
	a.quotes.Add(1)
	q, err := a.ak.QuotePCRs(a.t.at, extraData, a.bank, a.cfg.PCRs)
	if err != nil {
		return nil, fmt.Errorf("attest: quote: %w", err)
	}
	all, err := a.t.at.PCRs(a.bank)
	if err != nil {
		return nil, fmt.Errorf("attest: read PCRs: %w", err)
	}
	ev := &Evidence{
		Version:      ProtocolVersion,
		WireGuardKey: slices.Clone(wgKey[:]),
		RecordKey:    slices.Clone([]byte(recordKey)),
		HashAlg:      "sha256",
		Quote:        q.Quote,
		Signature:    q.Signature,
		EventLog:     a.evlog,
	}
	if a.bank == gattest.HashSHA1 {
		ev.HashAlg = "sha1"
	}
	for _, p := range all {
		if slices.Contains(a.cfg.PCRs, p.Index) {
			ev.PCRs = append(ev.PCRs, PCRValue{Index: p.Index, Digest: p.Digest})
		}
	}
	slices.SortFunc(ev.PCRs, func(x, y PCRValue) int { return x.Index - y.Index })
	return ev, nil
}

// Close unloads the AK from the TPM (the TPM itself stays open).
func (a *Attester) Close() error {
	defer a.t.lock()()
	return a.ak.Close(a.t.at)
}
