package config

import (
	"fmt"
	"net"
	"net/url"
)

// Via is how a box reaches one peer: directly over the underlay, through
// the NAT relay, or directly while that works and through the relay when
// it does not.
type Via string

// Paths to a peer.
const (
	ViaDirect Via = "direct" // the default
	ViaRelay  Via = "relay"
	ViaAuto   Via = "auto"
)

// Vias lists the valid values of peers[].via.
func Vias() []Via { return []Via{ViaDirect, ViaRelay, ViaAuto} }

// Relay is the NAT relay this box keeps one outbound TLS connection to
// (wardgate-relay), for peers with via: relay or auto.
type Relay struct {
	// URL is the relay's address, tls://host:port (port 443 passes most
	// hospital firewalls).
	URL string `yaml:"url,omitempty"`
	// CA verifies the relay's certificate.
	CA string `yaml:"ca,omitempty"`
	// Cert and Key are this box's enrollment certificate for the relay,
	// issued by the consortium's relay CA with the box's name as its
	// common name.
	Cert string `yaml:"cert,omitempty"`
	Key  string `yaml:"key,omitempty"`
}

// PeerVia is the path setting of a configured peer (direct by default).
func (c *Config) PeerVia(name string) Via {
	p, _ := c.Peer(name)
	if p.Via == "" {
		return ViaDirect
	}
	return p.Via
}

// RelayAddr is relay.url's host:port ("" without a relay).
func (c *Config) RelayAddr() string {
	u, err := url.Parse(c.Relay.URL)
	if err != nil || c.Relay.URL == "" {
		return ""
	}
	return u.Host
}

// UsesRelay says whether any peer may go through the relay.
func (c *Config) UsesRelay() bool {
	for _, p := range c.Peers {
		if p.Via == ViaRelay || p.Via == ViaAuto {
			return true
		}
	}
	return false
}

func (c *Config) resolveRelayPaths(abs func(*string)) {
	abs(&c.Relay.CA)
	abs(&c.Relay.Cert)
	abs(&c.Relay.Key)
}

// validateRelay checks peers[].via and, when a peer uses it, the relay.
func (c *Config) validateRelay(k *checker) {
	for i, p := range c.Peers {
		if p.Via != "" {
			oneOf(k, fmt.Sprintf("peers[%d].via", i), p.Via, Vias()...)
		}
	}
	if !c.UsesRelay() {
		if c.Relay.URL != "" {
			k.add("relay.url", "is set but no peer has via: relay or auto; set via on the peers behind NAT, or remove relay")
		}
		return
	}
	if k.required("relay.url", c.Relay.URL, "the NAT relay, e.g. tls://relay.consortium.example:443, since a peer has via: relay or auto") {
		u, err := url.Parse(c.Relay.URL)
		if err != nil || u.Scheme != "tls" || u.Path != "" {
			k.add("relay.url", "%q is not tls://host:port; write e.g. tls://relay.consortium.example:443", c.Relay.URL)
		} else if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			k.add("relay.url", "%q has no port; write e.g. tls://relay.consortium.example:443", c.Relay.URL)
		}
	}
	k.required("relay.ca", c.Relay.CA, "the PEM CA that issued the relay's certificate")
	k.required("relay.cert", c.Relay.Cert, "this box's enrollment certificate for the relay (PEM, common name = box)")
	k.required("relay.key", c.Relay.Key, "the key of relay.cert (PEM)")
}
