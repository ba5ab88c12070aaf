package peerproto

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"

	"github.com/wardgate/wardgate/attest"
)

// TLS channel binding (see attest.ChannelNonce). A verifier asks for it
// in the Wardgate-Attest-Channel header of every evidence request; a box
// that knows it quotes the nonce bound to the TLS exporter of the session
// the request came over, and a verifier checks it against the exporter of
// its own session. TLS runs end to end between the boxes, also through
// the NAT relay (NewClientDial), so both ends see the same session unless
// something terminates TLS between them. An old box ignores the header
// and answers the bare nonce; a verifier accepts that only until the peer
// has answered bound since its last first contact (ErrUnbound), the same
// rule as batching's downgrade; for a peer reached through the NAT relay,
// never (WithRequiredBinding).

const (
	// HeaderChannel asks the box for channel binding.
	HeaderChannel = "Wardgate-Attest-Channel"
	// channelTLSExporter is the one binding there is.
	channelTLSExporter = "tls-exporter"
	// exporterLabel is the RFC 5705/8446 exporter label, used with no
	// context, on both sides.
	exporterLabel = "EXPORTER-wardgate-attest"
	exporterLen   = 32
)

// ErrUnbound is an answer without channel binding from a peer that has
// bound its answers since the last first contact.
var ErrUnbound = errors.New("peer answered without TLS channel binding after binding before")

// exporter is the session's keying material for channel binding.
func exporter(cs *tls.ConnectionState) ([]byte, error) {
	if cs == nil {
		return nil, errors.New("channel binding needs TLS")
	}
	ekm, err := cs.ExportKeyingMaterial(exporterLabel, nil, exporterLen)
	if err != nil {
		return nil, fmt.Errorf("TLS exporter: %w", err)
	}
	return ekm, nil
}

// boundNonce is the nonce the box quotes for request r: bound to r's TLS
// session if the verifier asked, else nonce itself.
func boundNonce(r *http.Request, nonce []byte) ([]byte, error) {
	if r.Header.Get(HeaderChannel) != channelTLSExporter {
		return nonce, nil
	}
	ekm, err := exporter(r.TLS)
	if err != nil {
		return nil, err
	}
	return attest.ChannelNonce(nonce, ekm), nil
}

// traceConn returns ctx with a trace that keeps the connection the
// request goes out on (the TLS conn, whatever carries it underneath), and
// a function that gives that connection's exporter after the request.
func traceConn(ctx context.Context) (context.Context, func() ([]byte, error)) {
	var conn net.Conn
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conn = i.Conn }})
	return ctx, func() ([]byte, error) {
		tc, ok := conn.(*tls.Conn)
		if !ok {
			return nil, errors.New("channel binding needs TLS")
		}
		cs := tc.ConnectionState()
		return exporter(&cs)
	}
}

// checkBound remembers a bound answer to nonce and refuses an unbound one
// after it. Whether the binding is to this verifier's session is
// appraisal's check (attest.Evidence.Channel).
func (c *Client) checkBound(ev *attest.Evidence, nonce []byte) error {
	if !bytes.Equal(ev.Nonce, nonce) {
		c.peerBound.Store(true)
		return nil
	}
	if c.peerBound.Load() || c.mustBind {
		return ErrUnbound
	}
	return nil
}

// WithRequiredBinding makes every answer need channel binding, first
// contact included, so a middle that strips the request header from the
// start is caught too. The gateway sets it for peers reached through the
// NAT relay: the relay and its paths are new, so every box behind one
// binds, and the relay is the middle that must not be trusted. c is
// returned for chaining.
func (c *Client) WithRequiredBinding(on bool) *Client {
	c.mustBind = on
	return c
}
