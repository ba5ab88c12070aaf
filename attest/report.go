package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxReportSize bounds a signed report accepted by VerifyReport.
const MaxReportSize = 4 << 20

// ReportPCR is one quoted PCR value.
type ReportPCR struct {
	Index  int    `json:"index"`
	SHA256 string `json:"sha256"`
}

// ReportComponent is one measured component and whether a manifest
// approves it.
type ReportComponent struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	PCR      int    `json:"pcr"`
	Digest   string `json:"digest"`
	Matched  bool   `json:"matched"`
	Manifest string `json:"manifest,omitempty"` // vendor/version that approves it
}

// Report is the attestation report produced by every appraisal. It is
// published as signed JSON (Marshal) that anyone with the verifying box's
// public key can check (VerifyReport).
type Report struct {
	ID               string            `json:"id"`
	Verifier         string            `json:"verifier"`
	Peer             string            `json:"peer"`
	Time             time.Time         `json:"time"`
	Expiry           time.Time         `json:"expiry"`
	PolicyVersion    string            `json:"policy_version"`
	ManifestVersions []string          `json:"manifest_versions"`
	EKFingerprint    string            `json:"ek_fingerprint,omitempty"`
	Nonce            string            `json:"nonce,omitempty"`
	WireGuardKey     string            `json:"wg_key,omitempty"`
	RecordKey        string            `json:"record_key,omitempty"`
	PCRs             []ReportPCR       `json:"pcrs"`
	Components       []ReportComponent `json:"components"`
	Pass             bool              `json:"pass"`
	Reasons          []Reason          `json:"reasons"`

	signed []byte // the exact signed report bytes
	sig    []byte
	key    ed25519.PublicKey
}

// signedEnvelope is the wire form: the signature covers the exact bytes of
// "report".
type signedEnvelope struct {
	Report    json.RawMessage `json:"report"`
	Signature []byte          `json:"signature"` // Ed25519 over Report
	Key       []byte          `json:"key"`       // the verifying box's public key (informational)
}

func (r *Report) sign(key ed25519.PrivateKey) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("attest: encode report: %w", err)
	}
	r.signed = body
	r.sig = ed25519.Sign(key, body)
	r.key = key.Public().(ed25519.PublicKey)
	return nil
}

// Marshal returns the signed report envelope as JSON.
func (r *Report) Marshal() ([]byte, error) {
	if r.signed == nil {
		return nil, errors.New("attest: report is not signed")
	}
	return json.Marshal(signedEnvelope{Report: r.signed, Signature: r.sig, Key: r.key})
}

// Signature is the Ed25519 signature over the report body (for logs).
func (r *Report) Signature() []byte { return bytes.Clone(r.sig) }

// ErrReportSignature means a report's signature does not verify.
var ErrReportSignature = errors.New("attest: report signature does not verify under the given key")

// VerifyReport checks a signed report envelope against the verifying box's
// published Ed25519 public key and returns the report.
func VerifyReport(data []byte, pub ed25519.PublicKey) (*Report, error) {
	if len(data) > MaxReportSize {
		return nil, fmt.Errorf("%w: report is %d bytes, limit %d", ErrMalformed, len(data), MaxReportSize)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("attest: verify report: public key is not Ed25519")
	}
	var env signedEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: report envelope: %w", ErrMalformed, err)
	}
	if len(env.Report) == 0 || len(env.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: report envelope needs \"report\" and a 64-byte \"signature\"", ErrMalformed)
	}
	if !ed25519.Verify(pub, env.Report, env.Signature) {
		return nil, ErrReportSignature
	}
	var r Report
	if err := json.Unmarshal(env.Report, &r); err != nil {
		return nil, fmt.Errorf("%w: report body: %w", ErrMalformed, err)
	}
	r.signed, r.sig, r.key = bytes.Clone(env.Report), env.Signature, pub
	return &r, nil
}
