package gateway

// The box's side of the attestation protocol between boxes
// (attest/peerproto): what the attester side asks of this box, and the
// cached identity that the self-check shares with it.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/peerproto"
	"github.com/wardgate/wardgate/gateway/config"
)

// attestHandler serves the attester side of the protocol: to configured
// peers only, from their configured underlay addresses, each within its
// own budget (docs/decisions.md, "Attestation endpoint: who may ask").
func (d *Gateway) attestHandler() http.Handler {
	u := map[string]*underlay{}
	for _, p := range d.cfg.Peers {
		u[p.Name] = newUnderlay(p)
		d.relayUnderlay(p, u[p.Name])
	}
	return peerproto.NewHandlerConfig(protoBox{d: d, underlay: u}, d.attestHandlerConfig(), d.log)
}

// protoBox is the Gateway as peerproto.Box. It is a separate type so that
// the protocol's methods do not join the Gateway's exported API.
type protoBox struct {
	d        *Gateway
	underlay map[string]*underlay // configured peers by name
}

func (b protoBox) CheckPeer(name string, remote netip.Addr) error {
	u, ok := b.underlay[name]
	if !ok {
		return peerproto.ErrUnknownPeer
	}
	return u.check(b.d.bg, name, remote)
}

// underlayRefresh bounds how often a peer's host names are resolved again
// when a request comes from an address they did not resolve to: callers
// are not authenticated yet, so they must not drive DNS lookups.
const underlayRefresh = 30 * time.Second

// underlay is where a peer's requests may come from: the hosts of its
// configured attestation endpoint and WireGuard endpoint, resolved.
type underlay struct {
	static []netip.Addr // endpoints given as addresses
	hosts  []string     // endpoints given as host names

	mu       sync.Mutex
	dynamic  []netip.Addr // what hosts last resolved to
	resolved time.Time    // last resolution; zero before the first
}

func newUnderlay(p config.Peer) *underlay {
	u := &underlay{}
	for _, ep := range []string{p.Endpoint, p.WireGuardEndpoint} {
		host, _, err := net.SplitHostPort(ep)
		if err != nil || host == "" {
			continue // the config check names such an endpoint; nothing comes from it
		}
		if a, err := netip.ParseAddr(host); err == nil {
			u.static = append(u.static, a.Unmap())
			continue
		}
		u.hosts = append(u.hosts, host)
	}
	return u
}

// check says whether remote is one of the peer's underlay addresses,
// resolving its host names again if they are due.
func (u *underlay) check(ctx context.Context, name string, remote netip.Addr) error {
	remote = remote.Unmap()
	if u.has(remote) || (u.refresh(ctx) && u.has(remote)) {
		return nil
	}
	u.mu.Lock()
	addrs := slices.Concat(u.static, u.dynamic)
	u.mu.Unlock()
	return fmt.Errorf("%w: %s is configured at %v, the request came from %s", peerproto.ErrWrongSource, name, addrs, remote)
}

func (u *underlay) has(a netip.Addr) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Contains(u.static, a) || slices.Contains(u.dynamic, a)
}

// refresh resolves the host names again, at most once per
// underlayRefresh; it says whether it did.
func (u *underlay) refresh(ctx context.Context) bool {
	u.mu.Lock()
	due := len(u.hosts) > 0 && time.Since(u.resolved) >= underlayRefresh
	if due {
		u.resolved = time.Now()
	}
	u.mu.Unlock()
	if !due {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var addrs []netip.Addr
	ok := false
	for _, h := range u.hosts {
		as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
		if err != nil {
			continue // a later refresh retries
		}
		ok = true
		for _, a := range as {
			addrs = append(addrs, a.Unmap())
		}
	}
	if ok { // a failed lookup keeps the last answer rather than lock the peer out
		u.mu.Lock()
		u.dynamic = addrs
		u.mu.Unlock()
	}
	return ok
}

func (b protoBox) Identity(ctx context.Context) (*attest.Identity, error) {
	return b.d.identity(ctx)
}

func (b protoBox) ActivateCredential(ctx context.Context, ch *attest.Challenge) (*attest.ChallengeResponse, error) {
	defer b.d.scale.gate.enter(false)() // after any batched quote waiting (scale.go)
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
