// Package peerproto is the mutual attestation protocol between boxes, over
// HTTPS on attestation.listen. Each box serves its attester side (Handler)
// and drives its verifier side against every peer (Client):
//
//	POST /v1/attest/identity  {from}                 -> attest.Identity
//	POST /v1/attest/activate  attest.Challenge       -> attest.ChallengeResponse
//	POST /v1/attest/evidence  {from, nonce}          -> attest.Evidence (binds nonce, WireGuard and record keys)
//	POST /v1/attest/hello     {from}                 -> 202; "I (re)started: appraise me now"
//
// The activate request names its caller in the Wardgate-From header,
// because its body is the verifier's challenge exactly as attest made it.
//
// TLS here only hides the exchange from passive observers: the server
// certificate is self-signed per start and not checked, because
// authenticity comes from the TPM evidence (EK certificate chain,
// credential activation, and a quote over the verifier's nonce that binds
// the WireGuard and record keys). A man in the middle cannot change the
// keys a passing verdict admits, and one that terminates TLS to relay the
// messages is refused by name: the quoted nonce is bound to the TLS
// session it was asked over (channel.go).
//
// Who may ask: a request is answered only if it names a configured peer
// and comes from one of that peer's configured underlay addresses
// (Box.CheckPeer), and only then is any budget spent or TPM work done.
// Each peer then has its own budget of TPM work and of hellos (Budget),
// so that a flood in one peer's name cannot starve another's renewals.
//
// The package knows nothing of the daemon: the attester side asks the box
// for what it needs through the Box interface, and the verifier side
// returns what the peer sent for the caller's own attest.Verifier to
// appraise.
package peerproto

import "time"

const (
	// MaxRequestBody bounds hello, identity and evidence requests; a
	// challenge is a few KiB.
	MaxRequestBody = 64 << 10
	// MaxResponseBody bounds answers: evidence carries the event log
	// (firmware.MaxEventLogSize is 4 MiB).
	MaxResponseBody = 8 << 20
	// Timeout bounds one request, on both sides.
	Timeout = 10 * time.Second

	headerFrom = "Wardgate-From"

	pathIdentity = "/v1/attest/identity"
	pathActivate = "/v1/attest/activate"
	pathEvidence = "/v1/attest/evidence"
	pathHello    = "/v1/attest/hello"
)
