package attest

import (
	"crypto/ed25519"
	"time"
)

// Reason is one finding of an appraisal: a stable code for scripts and a
// sentence for people.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Verdict is the outcome of appraising one peer's evidence. Its fields are
// unexported so that only the verifier in this package can build one: the
// tunnel admits peers from verdicts alone, so a verdict must never be forged
// by a caller.
type Verdict struct {
	peer      string
	pass      bool
	reasons   []Reason
	wgKey     [32]byte
	recordKey ed25519.PublicKey
	issued    time.Time
	expiry    time.Time
	reportID  string
}

// Peer is the name of the appraised box.
func (v *Verdict) Peer() string { return v.peer }

// Passed reports whether every appraisal check passed.
func (v *Verdict) Passed() bool { return v != nil && v.pass }

// Reasons lists why the verdict failed (and any notes on a pass).
func (v *Verdict) Reasons() []Reason { return append([]Reason(nil), v.reasons...) }

// WireGuardKey is the WireGuard public key bound into the quote.
func (v *Verdict) WireGuardKey() [32]byte { return v.wgKey }

// RecordKey is the record-signing public key bound into the quote.
func (v *Verdict) RecordKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), v.recordKey...)
}

// IssuedAt is when the appraisal ran.
func (v *Verdict) IssuedAt() time.Time { return v.issued }

// Expiry is when the verdict stops admitting the peer unless renewed.
func (v *Verdict) Expiry() time.Time { return v.expiry }

// ReportID names the attestation report this verdict came from.
func (v *Verdict) ReportID() string { return v.reportID }

// Valid reports whether the verdict passed and has not expired at now.
func (v *Verdict) Valid(now time.Time) bool {
	return v != nil && v.pass && now.Before(v.expiry)
}
