package peerproto

import (
	"context"
	"net"
	"net/http"
)

// DialFunc opens the transport connection to a peer's attestation
// listener; the client runs TLS and HTTP over it.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// NewClientDial is NewClient with its own transport dialer: a box behind
// NAT reaches a peer's attestation listener through the NAT relay this
// way. TLS stays end to end between the boxes, and trust still comes from
// the evidence: whatever carries the bytes can only withhold or spoil
// them.
func NewClientDial(self, endpoint string, dial DialFunc) *Client {
	c := NewClient(self, endpoint)
	c.hc.Transport.(*http.Transport).DialContext = dial
	return c
}

// CloseIdle drops kept connections, after the path to the peer changed.
func (c *Client) CloseIdle() { c.hc.CloseIdleConnections() }
