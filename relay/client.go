package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardgate/wardgate/internal/names"
)

// ClientConfig configures a box's connection to its relay.
type ClientConfig struct {
	Box  string // this box
	Addr string // the relay's host:port
	// TLS holds RootCAs (the relay's CA) and this box's enrollment
	// certificate, whose common name is Box.
	TLS *tls.Config
	// Peers are the boxes this box may reach through the relay; frames
	// naming any other box are dropped.
	Peers  []string
	Logger *slog.Logger
}

// Packet is one WireGuard datagram that came through the relay.
type Packet struct {
	From string
	Data []byte
}

// Client is a box's side of the relay: one outbound TLS connection, kept
// up by Run, carrying datagrams (SendPacket, Packets) and streams
// (DialStream, Listener).
type Client struct {
	cfg  ClientConfig
	log  *slog.Logger
	dir  directory
	pkts chan Packet
	ln   *Listener

	mu   sync.Mutex
	sess *session
	up   chan struct{} // closed when a session is up; replaced when it ends

	reconnects, pktIn, pktOut, bytesIn, bytesOut, dropped atomic.Uint64
	streamIn, streamOut                                   atomic.Uint64
}

// packetQueue bounds datagrams waiting for the tunnel to read them.
const packetQueue = 1024

// NewClient checks cfg; Run connects.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := names.Check(cfg.Box); err != nil {
		return nil, fmt.Errorf("relay: ClientConfig.Box: %w", err)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("relay: ClientConfig.Addr %q is not host:port: %w", cfg.Addr, err)
	}
	if cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 || cfg.TLS.RootCAs == nil {
		return nil, errors.New("relay: ClientConfig.TLS needs RootCAs (the relay's CA) and the box's enrollment certificate")
	}
	dir, err := newDirectory(cfg.Peers)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Client{cfg: cfg, log: log.With("component", "relay-client"), dir: dir,
		pkts: make(chan Packet, packetQueue), up: make(chan struct{})}
	c.ln = newListener(c)
	return c, nil
}

// Run keeps the connection up until ctx ends, reconnecting with backoff.
func (c *Client) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 5*time.Second {
			backoff = 100 * time.Millisecond
		}
		c.log.Warn("relay connection lost; reconnecting", "relay", c.cfg.Addr, "retry_in", backoff, "err", err)
		c.reconnects.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// session dials the relay and serves one connection until it fails.
func (c *Client) session(ctx context.Context) error {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 5 * time.Second}, Config: c.tlsConfig()}
	raw, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.cfg.Addr, err)
	}
	s := newSession(c, raw)
	c.setSession(s)
	c.log.Info("relay connected", "relay", c.cfg.Addr)
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	err = s.serve()
	c.setSession(nil)
	s.teardown()
	return err
}

func (c *Client) tlsConfig() *tls.Config {
	tc := c.cfg.TLS.Clone()
	tc.MinVersion = tls.VersionTLS13
	return tc
}

func (c *Client) setSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = s
	if s != nil {
		close(c.up)
	} else {
		c.up = make(chan struct{})
	}
}

func (c *Client) current() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// waitUp returns the live session, waiting for one until ctx ends.
func (c *Client) waitUp(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		s, up := c.sess, c.up
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("relay %s not connected: %w", c.cfg.Addr, ctx.Err())
		case <-up:
		}
	}
}

// Connected says whether the relay connection is up.
func (c *Client) Connected() bool { return c.current() != nil }

// SendPacket sends one datagram to box through the relay; it is dropped
// (as UDP would drop it) when the relay is not connected or the queue is
// full.
func (c *Client) SendPacket(box string, b []byte) error {
	s := c.current()
	if s == nil {
		c.dropped.Add(1)
		return fmt.Errorf("relay %s not connected", c.cfg.Addr)
	}
	out, err := AppendFrame(getBuf(len(b)+headerLen+4+len(box)), Frame{Type: TypePacket, Box: box, Payload: b})
	if err != nil {
		return err
	}
	if !s.q.wait(s.ctx, out, packetWait) {
		c.dropped.Add(1)
		return nil
	}
	c.pktOut.Add(1)
	c.bytesOut.Add(uint64(len(b)))
	return nil
}

// Packets delivers the datagrams that came through the relay.
func (c *Client) Packets() <-chan Packet { return c.pkts }

func (c *Client) deliver(p Packet) {
	select {
	case c.pkts <- p:
		c.pktIn.Add(1)
		c.bytesIn.Add(uint64(len(p.Data)))
	default:
		c.dropped.Add(1)
	}
}

// AddrOf is box's stand-in address on the relay path (see directory).
func (c *Client) AddrOf(box string) (netip.AddrPort, bool) { return c.dir.addrOf(box) }

// BoxAt is the box whose stand-in address is a.
func (c *Client) BoxAt(a netip.Addr) (string, bool) { return c.dir.boxAt(a) }

// ClientStats are the box side's counters, for metrics.
type ClientStats struct {
	Connected             bool
	Reconnects            uint64
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64 // datagram payload bytes (WireGuard ciphertext)
	StreamBytesIn         uint64
	StreamBytesOut        uint64
	Dropped               uint64
}

// Stats reads the counters.
func (c *Client) Stats() ClientStats {
	st := ClientStats{Connected: c.Connected(), Reconnects: c.reconnects.Load(), PacketsIn: c.pktIn.Load(), PacketsOut: c.pktOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), Dropped: c.dropped.Load(),
		StreamBytesIn: c.streamIn.Load(), StreamBytesOut: c.streamOut.Load()}
	return st
}

// directory gives each peer a stand-in address in 100::/64, the IPv6
// discard-only prefix (RFC 6666), so that a relayed peer can be a
// WireGuard endpoint and the remote address of an attestation request like
// any other; nothing is ever sent to these addresses on a network.
type directory struct {
	byBox  map[string]netip.AddrPort
	byAddr map[netip.Addr]string
}

// RelayPrefix holds the stand-in addresses.
var RelayPrefix = netip.MustParsePrefix("100::/64")

// relayPort is the stand-in port: any non-zero value.
const relayPort = 1

func newDirectory(peers []string) (directory, error) {
	d := directory{byBox: map[string]netip.AddrPort{}, byAddr: map[netip.Addr]string{}}
	for i, p := range peers {
		if err := names.Check(p); err != nil {
			return d, fmt.Errorf("relay: ClientConfig.Peers[%d]: %w", i, err)
		}
		a := RelayPrefix.Addr().As16()
		a[14], a[15] = byte((i+1)>>8), byte(i+1)
		ap := netip.AddrPortFrom(netip.AddrFrom16(a), relayPort)
		d.byBox[p], d.byAddr[ap.Addr()] = ap, p
	}
	return d, nil
}

func (d directory) addrOf(box string) (netip.AddrPort, bool) {
	ap, ok := d.byBox[box]
	return ap, ok
}

func (d directory) boxAt(a netip.Addr) (string, bool) {
	b, ok := d.byAddr[a]
	return b, ok
}
