package attest

import (
	"time"

	gattest "github.com/google/go-attestation/attest"
)

// The tests are package attest_test, because they open TPMs through
// attest/devtpm, which imports attest. These are the internals they reach.

// The appraisal checks, each tested alone.
var (
	CheckWellFormed      = checkWellFormed
	CheckQuote           = checkQuote
	CheckBinding         = checkBinding
	CheckChannel         = checkChannel
	CheckPCRs            = checkPCRs
	CheckEventLog        = checkEventLog
	CheckManifests       = checkManifests
	CheckComponents      = checkComponents
	CheckPolicy          = checkPolicy
	VerifyQuoteSignature = verifyQuoteSignature
)

// ActivatedAK is the AK check on its own.
func (v *Verifier) ActivatedAK(peer string) (*gattest.AKPublic, *Reason) {
	return v.activatedAK(peer)
}

// ConsumeNonce is the nonce check on its own.
func (v *Verifier) ConsumeNonce(peer string, round, quoted []byte, now time.Time) *Reason {
	return v.consumeNonce(peer, round, quoted, now)
}

// ReissueNonce makes n fresh and unused again for peer, so that fuzzing and
// benchmarks can appraise the same evidence many times.
func (v *Verifier) ReissueNonce(peer string, n []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.used, string(n))
	v.nonces[peer] = nonceEntry{nonce: string(n), issued: v.cfg.Now()}
}

// SigVerifications counts quote signatures actually verified (not cached).
func SigVerifications() int64 { return sigVerifications.Load() }
