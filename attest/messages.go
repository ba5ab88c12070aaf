package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/wardgate/wardgate/firmware"
)

// Size limits for protocol messages arriving over the network.
const (
	MaxIdentitySize          = 16 << 10
	MaxChallengeSize         = 8 << 10
	MaxChallengeResponseSize = 1 << 10
	// MaxEvidenceSize fits a firmware.MaxEventLogSize log in base64.
	MaxEvidenceSize = 6 << 20
)

// ProtocolVersion labels messages and the quote binding.
const ProtocolVersion = "wardgate/attest/v1"

// AKParams are the attestation key's creation parameters (go-attestation's
// AttestationParameters), which let a verifier check the AK is a restricted
// signing key created inside a TPM.
type AKParams struct {
	Public            []byte `json:"public"`
	CreateData        []byte `json:"create_data"`
	CreateAttestation []byte `json:"create_attestation"`
	CreateSignature   []byte `json:"create_signature"`
}

// Identity is what an attester sends to enroll: its EK certificate (from
// the TPM's NV) and its AK.
type Identity struct {
	Version string   `json:"version"`
	EKCert  []byte   `json:"ek_cert"` // DER
	AK      AKParams `json:"ak"`
}

// Challenge is the verifier's MakeCredential output for the AK and EK.
type Challenge struct {
	Version    string `json:"version"`
	Credential []byte `json:"credential"`
	Secret     []byte `json:"secret"`
}

// ChallengeResponse carries the secret recovered by ActivateCredential.
type ChallengeResponse struct {
	Version string `json:"version"`
	Secret  []byte `json:"secret"`
}

// PCRValue is one PCR in the quoted bank.
type PCRValue struct {
	Index  int    `json:"index"`
	Digest []byte `json:"digest"`
}

// Evidence is a quote over the policy PCRs whose extraData binds the
// verifier's nonce and the box's WireGuard and record keys, plus the PCR
// values and the TCG event log.
type Evidence struct {
	Version      string     `json:"version"`
	Nonce        []byte     `json:"nonce"`
	WireGuardKey []byte     `json:"wg_key"`
	RecordKey    []byte     `json:"record_key"`
	HashAlg      string     `json:"hash_alg"` // "sha256" (or "sha1", which is refused)
	Quote        []byte     `json:"quote"`    // TPMS_ATTEST
	Signature    []byte     `json:"signature"`
	PCRs         []PCRValue `json:"pcrs"`
	EventLog     []byte     `json:"event_log"`
	// Batch is set in v2 (BatchProtocolVersion) evidence: the quote binds
	// the root of a tree of nonces, and this proves Nonce is one of them.
	Batch *BatchProof `json:"batch,omitempty"`
	// Runtime is the box's IMA runtime measurement list since the position
	// the verifier asked from (see attest/ima); empty on boxes without one.
	Runtime *RuntimeLog `json:"runtime,omitempty"`
	// Channel is the TLS exporter of the verifier's session the evidence
	// came over, set by the verifier's transport (never sent): appraisal
	// then checks that a bound nonce was bound to this session.
	Channel []byte `json:"-"`
}

// Marshal encodes the message as JSON.
func (m *Identity) Marshal() ([]byte, error)          { return json.Marshal(m) }
func (m *Challenge) Marshal() ([]byte, error)         { return json.Marshal(m) }
func (m *ChallengeResponse) Marshal() ([]byte, error) { return json.Marshal(m) }
func (m *Evidence) Marshal() ([]byte, error)          { return json.Marshal(m) }

func decodeBounded(what string, b []byte, limit int, v any) error {
	if len(b) > limit {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrMalformed, what, len(b), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: trailing data after the JSON object", ErrMalformed, what)
	}
	return nil
}

func checkVersion(what, v string) error {
	if v != ProtocolVersion {
		return fmt.Errorf("%w: %s: field \"version\" is %q, want %q", ErrMalformed, what, v, ProtocolVersion)
	}
	return nil
}

// ParseIdentity decodes and checks an Identity message.
func ParseIdentity(b []byte) (*Identity, error) {
	var m Identity
	if err := decodeBounded("identity", b, MaxIdentitySize, &m); err != nil {
		return nil, err
	}
	if err := checkVersion("identity", m.Version); err != nil {
		return nil, err
	}
	if len(m.EKCert) == 0 {
		return nil, fmt.Errorf("%w: identity: field \"ek_cert\" is empty; provision the EK certificate first", ErrMalformed)
	}
	if len(m.AK.Public) == 0 || len(m.AK.CreateAttestation) == 0 || len(m.AK.CreateSignature) == 0 {
		return nil, fmt.Errorf("%w: identity: field \"ak\" is incomplete (public, create_attestation and create_signature are required)", ErrMalformed)
	}
	return &m, nil
}

// ParseChallenge decodes and checks a Challenge message.
func ParseChallenge(b []byte) (*Challenge, error) {
	var m Challenge
	if err := decodeBounded("challenge", b, MaxChallengeSize, &m); err != nil {
		return nil, err
	}
	if err := checkVersion("challenge", m.Version); err != nil {
		return nil, err
	}
	if len(m.Credential) == 0 || len(m.Secret) == 0 {
		return nil, fmt.Errorf("%w: challenge: fields \"credential\" and \"secret\" are required", ErrMalformed)
	}
	return &m, nil
}

// ParseChallengeResponse decodes and checks a ChallengeResponse message.
func ParseChallengeResponse(b []byte) (*ChallengeResponse, error) {
	var m ChallengeResponse
	if err := decodeBounded("challenge response", b, MaxChallengeResponseSize, &m); err != nil {
		return nil, err
	}
	if err := checkVersion("challenge response", m.Version); err != nil {
		return nil, err
	}
	if len(m.Secret) == 0 {
		return nil, fmt.Errorf("%w: challenge response: field \"secret\" is empty", ErrMalformed)
	}
	return &m, nil
}

// ParseEvidence decodes and structurally checks an Evidence message.
func ParseEvidence(b []byte) (*Evidence, error) {
	var m Evidence
	if err := decodeBounded("evidence", b, MaxEvidenceSize, &m); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Evidence) check() error {
	if err := m.checkEvidenceVersion(); err != nil {
		return err
	}
	switch {
	case len(m.Nonce) < 16 || len(m.Nonce) > 64:
		return fmt.Errorf("%w: evidence: field \"nonce\" is %d bytes, want 16..64", ErrMalformed, len(m.Nonce))
	case len(m.WireGuardKey) != 32:
		return fmt.Errorf("%w: evidence: field \"wg_key\" is %d bytes, want 32", ErrMalformed, len(m.WireGuardKey))
	case len(m.RecordKey) != 32:
		return fmt.Errorf("%w: evidence: field \"record_key\" is %d bytes, want a 32-byte Ed25519 key", ErrMalformed, len(m.RecordKey))
	case m.HashAlg != "sha256" && m.HashAlg != "sha1":
		return fmt.Errorf("%w: evidence: field \"hash_alg\" is %q, want \"sha256\"", ErrMalformed, m.HashAlg)
	case len(m.Quote) == 0 || len(m.Signature) == 0:
		return fmt.Errorf("%w: evidence: fields \"quote\" and \"signature\" are required", ErrMalformed)
	case len(m.PCRs) == 0 || len(m.PCRs) > 24:
		return fmt.Errorf("%w: evidence: field \"pcrs\" has %d entries, want 1..24", ErrMalformed, len(m.PCRs))
	case len(m.EventLog) == 0 || len(m.EventLog) > firmware.MaxEventLogSize:
		return fmt.Errorf("%w: evidence: field \"event_log\" is %d bytes, want 1..%d", ErrMalformed, len(m.EventLog), firmware.MaxEventLogSize)
	}
	if m.Runtime != nil {
		if err := m.Runtime.check(); err != nil {
			return err
		}
	}
	seen := map[int]bool{}
	for _, p := range m.PCRs {
		if p.Index < 0 || p.Index > 23 || seen[p.Index] {
			return fmt.Errorf("%w: evidence: PCR index %d is out of range or repeated", ErrMalformed, p.Index)
		}
		seen[p.Index] = true
		if len(p.Digest) != 20 && len(p.Digest) != 32 {
			return fmt.Errorf("%w: evidence: PCR %d digest is %d bytes", ErrMalformed, p.Index, len(p.Digest))
		}
	}
	return nil
}

// checkEvidenceVersion accepts v1 (one quote per nonce) and v2 (a batched
// quote with the nonce's inclusion proof), each with its own shape.
func (m *Evidence) checkEvidenceVersion() error {
	switch m.Version {
	case ProtocolVersion:
		if m.Batch != nil {
			return fmt.Errorf("%w: evidence: field \"batch\" is only valid in %s evidence", ErrMalformed, BatchProtocolVersion)
		}
		return nil
	case BatchProtocolVersion:
		if m.Batch == nil {
			return fmt.Errorf("%w: %w", ErrMalformed, errNoBatch)
		}
		return m.Batch.check()
	}
	return fmt.Errorf("%w: evidence: field \"version\" is %q, want %q or %q", ErrMalformed, m.Version, ProtocolVersion, BatchProtocolVersion)
}
