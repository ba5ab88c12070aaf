package gateway

// The box's side of the NAT relay (relay/, wardgate-relay): one outbound
// TLS connection carrying the WireGuard packets and attestation streams of
// the peers configured via: relay, and of via: auto peers while their
// direct path is blocked.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardgate/wardgate/attest/peerproto"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/internal/tick"
	"github.com/wardgate/wardgate/relay"
)

// Path is the way packets and attestation currently take to a peer, as
// `wardgate peers` shows it in its PATH column.
type Path string

// Paths.
const (
	PathDirect Path = "direct"
	PathRelay  Path = "relay"
)

// Auto-mode probing: a via: auto peer is on the direct path while its
// attestation listener answers a direct TCP dial, and moves to the relay
// after probeFailures failed probes in a row (so within about
// probeFailures*probeEvery + probeTimeout of the block), and back when a
// probe succeeds again.
const (
	probeEvery    = time.Second
	probeTimeout  = time.Second
	probeFailures = 2
)

// relayPaths is the relay client and each peer's path.
type relayPaths struct {
	rc *relay.Client // nil when no peer uses the relay

	mu    sync.Mutex
	paths map[string]Path
	// conns are the attestation connections open to each peer, by the
	// path they took: a path change closes the old path's, so that a
	// request stuck on a path that went dark fails now rather than at its
	// timeout (by which time the peer's verdict may have run out).
	conns map[string]map[*pathConn]Path
}

// pathConn is an attestation connection that leaves conns when closed.
type pathConn struct {
	net.Conn
	rp   *relayPaths
	peer string
	once sync.Once
}

func (c *pathConn) Close() error {
	c.once.Do(func() {
		c.rp.mu.Lock()
		delete(c.rp.conns[c.peer], c)
		c.rp.mu.Unlock()
	})
	return c.Conn.Close()
}

// track registers a new connection to peer on path.
func (rp *relayPaths) track(peer string, path Path, c net.Conn) net.Conn {
	pc := &pathConn{Conn: c, rp: rp, peer: peer}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.conns[peer] == nil {
		rp.conns[peer] = map[*pathConn]Path{}
	}
	rp.conns[peer][pc] = path
	return pc
}

// dropPath closes peer's connections that took path.
func (rp *relayPaths) dropPath(peer string, path Path) {
	rp.mu.Lock()
	var old []*pathConn
	for c, p := range rp.conns[peer] {
		if p == path {
			old = append(old, c)
		}
	}
	rp.mu.Unlock()
	for _, c := range old {
		c.Close()
	}
}

// openRelay starts the relay client when a peer may use it; it runs until
// the box closes.
func (d *Gateway) openRelay() error {
	d.relayPaths = &relayPaths{paths: map[string]Path{}, conns: map[string]map[*pathConn]Path{}}
	for _, p := range d.cfg.Peers {
		d.relayPaths.paths[p.Name] = PathDirect
		if p.Via == config.ViaRelay {
			d.relayPaths.paths[p.Name] = PathRelay
		}
	}
	if !d.cfg.UsesRelay() {
		return nil
	}
	r := d.cfg.Relay
	tc, err := relay.LoadTLS(r.Cert, r.Key, r.CA)
	if err != nil {
		return fmt.Errorf("relay.cert/key/ca: %w", err)
	}
	var peers []string
	for _, p := range d.cfg.Peers {
		peers = append(peers, p.Name)
	}
	d.relayPaths.rc, err = relay.NewClient(relay.ClientConfig{Box: d.cfg.Box, Addr: d.cfg.RelayAddr(), TLS: tc, Peers: peers, Logger: d.log})
	if err != nil {
		return err
	}
	d.goDo(func() { d.relayPaths.rc.Run(d.bg) })
	return nil
}

// relayClient is the relay client for the tunnel, or nil.
func (d *Gateway) relayClient() *relay.Client {
	if d.relayPaths == nil {
		return nil
	}
	return d.relayPaths.rc
}

// pathOf is p's current path.
func (d *Gateway) pathOf(peer string) Path {
	if d.relayPaths == nil {
		return PathDirect
	}
	d.relayPaths.mu.Lock()
	defer d.relayPaths.mu.Unlock()
	return d.relayPaths.paths[peer]
}

// peerClient is the attestation client for p: its dialer follows the
// peer's path, so TLS runs end to end over the relay when it must.
func (d *Gateway) peerClient(p config.Peer) *peerproto.Client {
	if p.Via != config.ViaRelay && p.Via != config.ViaAuto {
		return peerproto.NewClient(d.cfg.Box, p.Endpoint)
	}
	direct := &net.Dialer{Timeout: 3 * time.Second}
	return peerproto.NewClientDial(d.cfg.Box, p.Endpoint, func(ctx context.Context, network, addr string) (net.Conn, error) {
		path := d.pathOf(p.Name)
		var c net.Conn
		var err error
		if path == PathRelay {
			c, err = d.relayClient().DialStream(ctx, p.Name)
		} else {
			c, err = direct.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		return d.relayPaths.track(p.Name, path, c), nil
	}).WithRequiredBinding(true)
}

// peerEndpoint is where WireGuard sends p's packets: its UDP endpoint, or
// its stand-in address on the relay.
func (d *Gateway) peerEndpoint(peer string) netip.AddrPort {
	if d.pathOf(peer) == PathRelay {
		if ap, ok := d.relayClient().AddrOf(peer); ok {
			return ap
		}
	}
	return d.cfg.PeerWireGuardEndpoint(peer)
}

// relayUnderlay adds p's stand-in address to where its attestation
// requests may come from. The relay names the sender from its verified
// certificate; a hostile relay could lie, which spends that peer's
// request budget and gets nothing else (the evidence authenticates).
func (d *Gateway) relayUnderlay(p config.Peer, u *underlay) {
	if rc := d.relayClient(); rc != nil {
		if ap, ok := rc.AddrOf(p.Name); ok {
			u.static = append(u.static, ap.Addr())
		}
	}
}

// serveRelayed serves the attestation handler to streams peers open
// through the relay, beside the direct listener.
func (d *Gateway) serveRelayed(l *listeners, srv *http.Server) {
	if rc := d.relayClient(); rc != nil {
		l.http("attestation-relayed", srv, peerproto.Listen(rc.Listener()), true)
	}
}

// startPathWatch probes each via: auto peer's direct path (step 8).
func (d *Gateway) startPathWatch() {
	for _, p := range d.cfg.Peers {
		if p.Via == config.ViaAuto {
			d.goDo(func() { d.watchPath(d.bg, p) })
		}
	}
}

// watchPath keeps an auto peer on the direct path while it answers there,
// and on the relay while it does not.
func (d *Gateway) watchPath(ctx context.Context, p config.Peer) {
	failed := 0
	tick.NowAndEvery(ctx, probeEvery, func(ctx context.Context) {
		if probeDirect(ctx, p.Endpoint) {
			failed = 0
			d.setPath(p.Name, PathDirect)
		} else if failed++; failed >= probeFailures {
			d.setPath(p.Name, PathRelay)
		}
	})
}

func probeDirect(ctx context.Context, endpoint string) bool {
	c, err := (&net.Dialer{Timeout: probeTimeout}).DialContext(ctx, "tcp", endpoint)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// setPath moves a peer to path: WireGuard's endpoint, and the attestation
// client's kept connections.
func (d *Gateway) setPath(peer string, path Path) {
	rp := d.relayPaths
	rp.mu.Lock()
	old := rp.paths[peer]
	rp.paths[peer] = path
	rp.mu.Unlock()
	if old == path {
		return
	}
	d.log.Info("peer path changed", "peer", peer, "from", old, "to", path)
	if err := d.dev.SetEndpoint(peer, d.peerEndpoint(peer)); err != nil {
		d.log.Warn("moving peer's tunnel endpoint", "peer", peer, "err", err)
	}
	if ps, ok := d.peers[peer]; ok {
		ps.client.CloseIdle()
	}
	rp.dropPath(peer, old)
}

// relayMetrics exports the relay connection's health and bytes relayed.
type relayMetrics struct{ rc *relay.Client }

var (
	descRelayUp    = prometheus.NewDesc("wardgate_relay_connected", "1 while the box's connection to the NAT relay is up.", nil, nil)
	descRelayBytes = prometheus.NewDesc("wardgate_relay_bytes_total", "Bytes relayed through the NAT relay, by kind (packet: WireGuard datagrams, stream: attestation TLS) and direction (sent, received).", []string{"kind", "direction"}, nil)
	descRelayConns = prometheus.NewDesc("wardgate_relay_reconnects_total", "Times the relay connection was lost and dialled again.", nil, nil)
	descRelayDrops = prometheus.NewDesc("wardgate_relay_dropped_total", "Datagrams dropped on the relay path (not connected, or queue full).", nil, nil)
)

func (m relayMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRelayUp, descRelayBytes, descRelayConns, descRelayDrops} {
		ch <- d
	}
}

func (m relayMetrics) Collect(ch chan<- prometheus.Metric) {
	s := m.rc.Stats()
	up := 0.0
	if s.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descRelayUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descRelayBytes, prometheus.CounterValue, float64(s.BytesOut), "packet", "sent")
	ch <- prometheus.MustNewConstMetric(descRelayBytes, prometheus.CounterValue, float64(s.BytesIn), "packet", "received")
	ch <- prometheus.MustNewConstMetric(descRelayBytes, prometheus.CounterValue, float64(s.StreamBytesOut), "stream", "sent")
	ch <- prometheus.MustNewConstMetric(descRelayBytes, prometheus.CounterValue, float64(s.StreamBytesIn), "stream", "received")
	ch <- prometheus.MustNewConstMetric(descRelayConns, prometheus.CounterValue, float64(s.Reconnects))
	ch <- prometheus.MustNewConstMetric(descRelayDrops, prometheus.CounterValue, float64(s.Dropped))
}

// registerRelayMetrics adds the relay's metrics when the box uses one.
func (d *Gateway) registerRelayMetrics() {
	if rc := d.relayClient(); rc != nil {
		d.metrics.Registry().MustRegister(relayMetrics{rc})
	}
}
