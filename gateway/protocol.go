package gateway

// The box's side of the attestation protocol between boxes
// (attest/peerproto): what the attester side asks of this box, and the
// cached identity that the self-check shares with it.

import (
	"context"
	"crypto/ed25519"
	"net/http"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/peerproto"
)

// attestHandler serves the attester side of the protocol.
func (d *Gateway) attestHandler() http.Handler {
	return peerproto.NewHandler(protoBox{d}, d.tpmLimit, d.log)
}

// protoBox is the Gateway as peerproto.Box. It is a separate type so that
// the protocol's methods do not join the Gateway's exported API.
type protoBox struct{ d *Gateway }

func (b protoBox) KnownPeer(name string) bool {
	_, ok := b.d.peers[name]
	return ok
}

func (b protoBox) Identity(ctx context.Context) (*attest.Identity, error) {
	return b.d.identity(ctx)
}

func (b protoBox) ActivateCredential(ctx context.Context, ch *attest.Challenge) (*attest.ChallengeResponse, error) {
	b.d.attMu.Lock()
	defer b.d.attMu.Unlock()
	return b.d.attester.ActivateCredential(ctx, ch)
}

func (b protoBox) Evidence(ctx context.Context, nonce []byte) (*attest.Evidence, error) {
	b.d.attMu.Lock()
	defer b.d.attMu.Unlock()
	return b.d.attester.Evidence(ctx, nonce, b.d.wgKey, b.d.recordKey.Public().(ed25519.PublicKey))
}

// Hello re-runs first contact with the peer: it restarted, so the AK the
// verifier activated is gone.
func (b protoBox) Hello(peer string) {
	if p, ok := b.d.peers[peer]; ok {
		p.poke()
	}
}

// identity returns this box's attestation identity, cached (it does not
// change while the daemon runs).
func (d *Gateway) identity(ctx context.Context) (*attest.Identity, error) {
	d.attMu.Lock()
	defer d.attMu.Unlock()
	if d.ident == nil {
		id, err := d.attester.Identity(ctx)
		if err != nil {
			return nil, err
		}
		d.ident = id
	}
	return d.ident, nil
}
