package tunnel

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/wardgate/wardgate/relay"
)

// relayBind sends to peers whose endpoint is a relay stand-in address
// (relay.RelayPrefix) through the NAT relay, and to every other endpoint
// over UDP as before. Packets that come through the relay reach
// wireguard-go from the sender's stand-in address, so WireGuard's own
// roaming follows a peer that switches path, and WireGuard authenticates
// every packet whichever way it came: the relay only carries ciphertext.
type relayBind struct {
	conn.Bind
	rc *relay.Client

	mu     sync.Mutex
	closed chan struct{}
	// direct holds the UDP endpoint of each peer the box has moved to the
	// direct path (Device.SetEndpoint). A packet of that peer still in
	// flight through the relay is handed to wireguard-go as if it came
	// from there: otherwise WireGuard's roaming would follow it back onto
	// the relay and keep the peer there, since nothing moves it again.
	direct map[string]conn.Endpoint
}

// wrapRelay adds the relay path to b (nil rc: b unchanged).
func wrapRelay(b conn.Bind, rc *relay.Client) conn.Bind {
	if rc == nil {
		return b
	}
	return &relayBind{Bind: b, rc: rc, direct: map[string]conn.Endpoint{}}
}

// pin records box's path: ep direct (a UDP address), or the relay (ep
// a relay stand-in address, or invalid).
func (b *relayBind) pin(box string, ep netip.AddrPort) {
	var direct conn.Endpoint
	if ep.IsValid() && !relay.RelayPrefix.Contains(ep.Addr()) {
		direct, _ = b.Bind.ParseEndpoint(ep.String())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if direct == nil {
		delete(b.direct, box)
		return
	}
	b.direct[box] = direct
}

// source is the endpoint wireguard-go is told a packet relayed from box
// came from (see direct).
func (b *relayBind) source(box string, ap netip.AddrPort) conn.Endpoint {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ep, ok := b.direct[box]; ok {
		return ep
	}
	return &relayEndpoint{ap: ap, box: box}
}

// relayEndpoint is a peer reached through the relay.
type relayEndpoint struct {
	ap  netip.AddrPort
	box string
}

func (e *relayEndpoint) ClearSrc()           {}
func (e *relayEndpoint) SrcToString() string { return "" }
func (e *relayEndpoint) DstToString() string { return e.ap.String() }
func (e *relayEndpoint) DstToBytes() []byte  { b, _ := e.ap.MarshalBinary(); return b }
func (e *relayEndpoint) DstIP() netip.Addr   { return e.ap.Addr() }
func (e *relayEndpoint) SrcIP() netip.Addr   { return netip.Addr{} }

func (b *relayBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	closed := make(chan struct{})
	b.mu.Lock()
	b.closed = closed
	b.mu.Unlock()
	return append(fns, b.receiver(closed)), actual, nil
}

// receiver hands wireguard-go the packets that came through the relay, as
// many as are waiting (up to the batch) per call.
func (b *relayBind) receiver(closed chan struct{}) conn.ReceiveFunc {
	return func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		n := 0
		for n < len(packets) {
			var p relay.Packet
			if n == 0 {
				select {
				case p = <-b.rc.Packets():
				case <-closed:
					return 0, net.ErrClosed
				}
			} else {
				select {
				case p = <-b.rc.Packets():
				default:
					return n, nil
				}
			}
			ap, ok := b.rc.AddrOf(p.From)
			if !ok || len(p.Data) > len(packets[n]) {
				continue
			}
			sizes[n] = copy(packets[n], p.Data)
			p.Release()
			eps[n] = b.source(p.From, ap)
			n++
		}
		return n, nil
	}
}

func (b *relayBind) Close() error {
	b.mu.Lock()
	if b.closed != nil {
		close(b.closed)
		b.closed = nil
	}
	b.mu.Unlock()
	return b.Bind.Close()
}

func (b *relayBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	re, ok := ep.(*relayEndpoint)
	if !ok {
		return b.Bind.Send(bufs, ep)
	}
	for _, p := range bufs {
		if err := b.rc.SendPacket(re.box, p); err != nil {
			return err
		}
	}
	return nil
}

func (b *relayBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err == nil && relay.RelayPrefix.Contains(ap.Addr()) {
		box, ok := b.rc.BoxAt(ap.Addr())
		if !ok {
			return nil, fmt.Errorf("tunnel: relay endpoint %s names no peer", s)
		}
		return &relayEndpoint{ap: ap, box: box}, nil
	}
	return b.Bind.ParseEndpoint(s)
}

// SetEndpoint points an admitted peer at ep (a UDP address, or its relay
// stand-in address): how a box moves a peer between the direct path and
// the relay. It does nothing for a peer that is not admitted.
func (d *Device) SetEndpoint(name string, ep netip.AddrPort) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.peers[name]
	if d.closed || cur == nil || cur.state != StateAdmitted {
		return nil
	}
	cur.cfg.Endpoint = ep
	if err := d.wg.IpcSet(endpointUAPI(cur.cfg.PublicKey, ep, int(d.cfg.Keepalive.Seconds()))); err != nil {
		return fmt.Errorf("tunnel: set %s's endpoint: %w", name, err)
	}
	if rb, ok := d.bind.(*relayBind); ok {
		rb.pin(name, ep)
	}
	return nil
}
