package records

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
)

// ErrClientNotAllowed: the client certificate's subject is limited (by
// Config.ClientPeers) to other peers.
var ErrClientNotAllowed = errors.New("relay: client certificate may not send to this peer")

const (
	codeClientNotAllowed = "client_not_allowed"
	codeRateLimited      = "rate_limited"
)

// clientMayReach checks a mutually authenticated client against
// Config.ClientPeers: a subject common name listed there may send only to
// the peers listed for it. Without TLS (loopback or insecure_lan intake)
// there is no subject to check.
func (r *Relay) clientMayReach(cs *tls.ConnectionState, peer string) error {
	if cs == nil || len(cs.PeerCertificates) == 0 || len(r.cfg.ClientPeers) == 0 {
		return nil
	}
	cn := cs.PeerCertificates[0].Subject.CommonName
	allowed, limited := r.cfg.ClientPeers[cn]
	if !limited || slices.Contains(allowed, peer) {
		return nil
	}
	return fmt.Errorf("%w: client %q may send to %q only (records.client_peers), not to %q", ErrClientNotAllowed, cn, allowed, peer)
}
