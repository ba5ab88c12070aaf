package relay

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
)

// Streams are byte streams between two boxes through the relay, for the
// attestation protocol (which runs TLS over them end to end). Each has
// flow control: the sender may have at most streamWindow bytes unread at
// the receiver, and the receiver grants more (TypeWindow) as the
// application reads. So a stream's memory is bounded on both boxes and in
// the relay, and a receiver that is sent more than it granted resets it.
const (
	streamWindow = 256 << 10
	// maxStreams bounds the streams of one relay connection.
	maxStreams = 128
	// acceptBacklog bounds streams opened by peers and not yet accepted.
	acceptBacklog = 16
	// peerStreamBit is set on a stream id by the box that did not open
	// the stream, so the two boxes' ids never collide.
	peerStreamBit = 1 << 31
)

type streamKey struct {
	box  string
	id   uint32 // without peerStreamBit
	mine bool   // this box opened it
}

// wireID is the id this box puts on the wire for k.
func (k streamKey) wireID() uint32 {
	if k.mine {
		return k.id
	}
	return k.id | peerStreamBit
}

// keyOf is the stream a received frame from box refers to.
func keyOf(box string, wire uint32) streamKey {
	return streamKey{box: box, id: wire &^ peerStreamBit, mine: wire&peerStreamBit != 0}
}

// session is one live connection to the relay.
type session struct {
	c    *Client
	conn net.Conn
	q    *sendQueue
	ctx  context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	streams map[streamKey]*stream
	nextID  uint32
	ended   bool
}

func newSession(c *Client, conn net.Conn) *session {
	ctx, stop := context.WithCancel(context.Background())
	return &session{c: c, conn: conn, q: newSendQueue(), ctx: ctx, stop: stop, streams: map[streamKey]*stream{}}
}

// serve writes the send queue and reads frames until the connection fails.
func (s *session) serve() error {
	go func() {
		if err := s.q.run(s.conn); err != nil {
			s.conn.Close()
		}
	}()
	var buf []byte
	r := bufio.NewReaderSize(s.conn, readBuffer)
	for {
		f, nb, err := ReadFrame(r, buf)
		buf = nb
		if err != nil {
			return err
		}
		if _, known := s.c.dir.addrOf(f.Box); !known {
			continue // not one of this box's peers
		}
		s.dispatch(f)
	}
}

func (s *session) dispatch(f Frame) {
	if f.Type == TypePacket {
		s.c.deliver(Packet{From: f.Box, Data: append(getBuf(len(f.Payload)), f.Payload...)})
		return
	}
	k := keyOf(f.Box, f.Stream)
	if f.Type == TypeOpen {
		s.accept(k)
		return
	}
	st := s.lookup(k)
	if st == nil {
		if f.Type == TypeData {
			s.send(Frame{Type: TypeClose, Box: k.box, Stream: k.wireID(), Payload: []byte("no such stream")})
		}
		return
	}
	switch f.Type {
	case TypeData:
		st.received(f.Payload)
	case TypeClose:
		st.remoteClosed()
	case TypeWindow:
		st.grant(binary.BigEndian.Uint32(f.Payload))
	}
}

// accept takes a stream a peer opened, or refuses it when over a bound.
func (s *session) accept(k streamKey) {
	if k.mine {
		return // an open claiming to answer our own stream: ignore
	}
	st, err := s.register(k)
	if err == nil && !s.c.ln.offer(st) {
		err = errors.New("accept backlog full")
		st.teardown()
	}
	if err != nil {
		s.send(Frame{Type: TypeClose, Box: k.box, Stream: k.wireID(), Payload: []byte(err.Error())})
	}
}

func (s *session) register(k streamKey) (*stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, net.ErrClosed
	}
	if len(s.streams) >= maxStreams {
		return nil, fmt.Errorf("more than %d streams", maxStreams)
	}
	if k.mine {
		s.nextID = (s.nextID + 1) &^ peerStreamBit
		k.id = s.nextID
	}
	if s.streams[k] != nil {
		return nil, errors.New("stream id in use")
	}
	st := newStream(s, k)
	s.streams[k] = st
	return st, nil
}

func (s *session) lookup(k streamKey) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[k]
}

func (s *session) forget(k streamKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, k)
}

// send queues a stream frame; a frame that cannot be queued ends the
// session (the stream would otherwise lose bytes silently).
func (s *session) send(f Frame) bool {
	b, err := AppendFrame(nil, f)
	if err != nil {
		return false
	}
	if !s.q.frame(s.ctx, b) {
		s.conn.Close()
		return false
	}
	return true
}

// teardown ends every stream of a session that is gone.
func (s *session) teardown() {
	s.stop()
	s.q.stop()
	s.mu.Lock()
	s.ended = true
	all := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		all = append(all, st)
	}
	s.mu.Unlock()
	for _, st := range all {
		st.teardown()
	}
}

// stream bridges one relayed stream to a net.Pipe, whose far end the
// application holds (net.Pipe gives it deadlines, which the HTTP client
// and server set).
type stream struct {
	s    *session
	key  streamKey
	app  net.Conn // the application's end
	mine net.Conn // ours
	in   chan []byte

	mu      sync.Mutex
	cond    *sync.Cond
	credit  int64 // bytes we may still send
	pending int   // bytes in `in`, bounded by streamWindow
	closed  bool
	once    sync.Once
}

func newStream(s *session, k streamKey) *stream {
	a, b := net.Pipe()
	st := &stream{s: s, key: k, mine: b, in: make(chan []byte, 1024), credit: streamWindow}
	st.cond = sync.NewCond(&st.mu)
	remote, _ := s.c.dir.addrOf(k.box)
	st.app = &streamConn{Conn: a, remote: remote}
	go st.pumpIn()
	go st.pumpOut()
	return st
}

// received queues data from the peer, resetting a stream that is sent more
// than its window.
func (st *stream) received(p []byte) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	ok := st.pending+len(p) <= streamWindow
	if ok {
		// Under mu: finish closes st.in under mu too.
		select {
		case st.in <- append([]byte(nil), p...):
			st.pending += len(p)
		default:
			ok = false
		}
	}
	st.mu.Unlock()
	if !ok {
		st.reset("window exceeded")
		return
	}
	st.s.c.streamIn.Add(uint64(len(p)))
}

// pumpIn writes received data to the application and grants the sender
// what was read.
func (st *stream) pumpIn() {
	defer st.mine.Close()
	for p := range st.in {
		if _, err := st.mine.Write(p); err != nil {
			st.reset("closed by the application")
			return
		}
		st.mu.Lock()
		st.pending -= len(p)
		st.mu.Unlock()
		var w [4]byte
		binary.BigEndian.PutUint32(w[:], uint32(len(p)))
		st.s.send(Frame{Type: TypeWindow, Box: st.key.box, Stream: st.key.wireID(), Payload: w[:]})
	}
}

// pumpOut sends what the application writes, within the granted window.
func (st *stream) pumpOut() {
	buf := make([]byte, MaxPayload)
	for {
		n := st.waitCredit()
		if n == 0 {
			return
		}
		r, err := st.mine.Read(buf[:n])
		if r > 0 {
			st.mu.Lock()
			st.credit -= int64(r)
			st.mu.Unlock()
			st.s.c.streamOut.Add(uint64(r))
			if !st.s.send(Frame{Type: TypeData, Box: st.key.box, Stream: st.key.wireID(), Payload: buf[:r]}) {
				st.teardown()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				st.close("")
			}
			return
		}
	}
}

// waitCredit waits until some window is granted; 0 when the stream ended.
func (st *stream) waitCredit() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	for st.credit <= 0 && !st.closed {
		st.cond.Wait()
	}
	if st.closed {
		return 0
	}
	return int(min(st.credit, MaxPayload))
}

func (st *stream) grant(n uint32) {
	st.mu.Lock()
	st.credit += int64(n)
	st.mu.Unlock()
	st.cond.Broadcast()
}

// remoteClosed: the peer is done; the application reads what is queued,
// then EOF.
func (st *stream) remoteClosed() { st.finish(false, "") }

// close tells the peer the stream is done.
func (st *stream) close(why string) { st.finish(true, why) }

// reset ends the stream at once, telling the peer.
func (st *stream) reset(why string) {
	st.finish(true, why)
	st.app.Close()
}

// teardown ends the stream without telling anybody (the session is gone).
func (st *stream) teardown() {
	st.finish(false, "")
	st.app.Close()
}

func (st *stream) finish(tell bool, why string) {
	st.once.Do(func() {
		st.mu.Lock()
		st.closed = true
		close(st.in)
		st.mu.Unlock()
		st.cond.Broadcast()
		st.s.forget(st.key)
		if tell {
			st.s.send(Frame{Type: TypeClose, Box: st.key.box, Stream: st.key.wireID(), Payload: []byte(why)})
		}
	})
}

// streamConn is the application's end, with the peer's stand-in address
// as its remote address.
type streamConn struct {
	net.Conn
	remote netip.AddrPort
}

func (c *streamConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }
func (c *streamConn) LocalAddr() net.Addr  { return relayAddr{} }

type relayAddr struct{}

func (relayAddr) Network() string { return "relay" }
func (relayAddr) String() string  { return "relay" }

// DialStream opens a stream to box through the relay, waiting for the
// relay connection until ctx ends.
func (c *Client) DialStream(ctx context.Context, box string) (net.Conn, error) {
	if _, ok := c.dir.addrOf(box); !ok {
		return nil, fmt.Errorf("relay: %q is not a peer of this box", box)
	}
	s, err := c.waitUp(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.register(streamKey{box: box, mine: true})
	if err != nil {
		return nil, fmt.Errorf("relay: open stream to %s: %w", box, err)
	}
	if !s.send(Frame{Type: TypeOpen, Box: box, Stream: st.key.wireID()}) {
		st.teardown()
		return nil, fmt.Errorf("relay: open stream to %s: connection lost", box)
	}
	return st.app, nil
}

// Listener accepts the streams peers open to this box.
type Listener struct {
	c      *Client
	ch     chan *stream
	done   chan struct{}
	closed sync.Once
}

func newListener(c *Client) *Listener {
	return &Listener{c: c, ch: make(chan *stream, acceptBacklog), done: make(chan struct{})}
}

// Listener is the box's listener for relayed streams.
func (c *Client) Listener() *Listener { return c.ln }

func (l *Listener) offer(st *stream) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.ch <- st:
		return true
	default:
		return false
	}
}

// Accept waits for a stream.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case st := <-l.ch:
		return st.app, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *Listener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

// Addr is a stand-in: relayed streams have no local address.
func (l *Listener) Addr() net.Addr { return relayAddr{} }
