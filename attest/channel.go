package attest

import (
	"bytes"
	"crypto/sha256"
)

// TLS channel binding. Boxes attest each other over TLS whose
// certificates nobody checks (trust comes from the evidence), so a relay
// or proxy that terminates TLS on both sides could read and pass on the
// exchange unseen. A verifier that asks for binding has the box quote,
// instead of its bare nonce, ChannelNonce(nonce, exporter) with the TLS
// exporter of the box's own session: a man in the middle holds two
// sessions with two exporters, so the quoted value is not the one the
// verifier computes from its session, and appraisal names it.

// channelDomain separates a channel-bound nonce from every other hash of
// the protocol.
const channelDomain = "wardgate/attest/channel/tls-exporter"

// ChannelNonce is the nonce a box quotes for a verifier that asked for
// channel binding: SHA-256(domain || nonce || exporter), where exporter
// is the TLS exporter of the box's session with that verifier.
func ChannelNonce(nonce, exporter []byte) []byte {
	h := sha256.New()
	h.Write([]byte(channelDomain))
	h.Write(nonce)
	h.Write(exporter)
	return h.Sum(nil)
}

// checkChannel checks the quoted nonce against the verifier's own TLS
// session, when the transport gave its exporter (Evidence.Channel). It
// returns leaf, the value the quote must carry for this round (the batch
// leaf, or the nonce in v1 extraData), and answered, the round nonce the
// evidence claims to answer. An unbound answer (the bare round nonce) is
// left to the transport, which refuses it from a peer that has bound
// before.
func checkChannel(round []byte, ev *Evidence) (leaf, answered []byte, r *Reason) {
	if ev.Channel == nil || bytes.Equal(ev.Nonce, round) {
		return round, ev.Nonce, nil
	}
	bound := ChannelNonce(round, ev.Channel)
	if !bytes.Equal(ev.Nonce, bound) {
		return nil, nil, reasonf(ReasonChannelBinding, "the quoted nonce is not this round's nonce bound to this verifier's TLS session: the box answered over another TLS session (a relay or proxy terminates TLS between the boxes) or answered another round")
	}
	return bound, round, nil
}
