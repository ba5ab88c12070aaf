package records

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wardgate/wardgate/records/hl7"
)

// errAckTimeout: the engine did not acknowledge within the ACK timeout.
var errAckTimeout = errors.New("no ACK within the ack timeout")

// maxIdleMLLP bounds the idle connections kept to one engine.
const maxIdleMLLP = 64

// closeWatch is how long the first answer on a new connection is watched
// for the engine closing the connection after it. An engine that half-closes
// after its reply still reads what arrives next and takes it, but cannot
// answer: a message sent in that gap reaches the engine and looks lost, so
// its resend would be a duplicate. Watching once per connection finds such
// an engine before a second message is ever sent on one of its connections.
const closeWatch = 25 * time.Millisecond

// mllpPool holds the connections to one HL7 engine (mllp:// or mllps://).
type mllpPool struct {
	addr    string
	max     int64
	tls     *tls.Config // mllps
	perMsg  bool        // Connection: per-message
	timeout time.Duration
	// closes is learned: the engine closed a connection right after its
	// first answer, so it gets a connection per message from then on.
	closes atomic.Bool

	mu   sync.Mutex
	idle []*mllpConn
}

type mllpConn struct {
	c       net.Conn
	rd      *bufio.Reader
	watched bool // its first answer was watched for a close (closeWatch)
}

func newMLLPPool(addr string, max int64, tc *tls.Config, e Endpoint) *mllpPool {
	t := e.AckTimeout
	if t <= 0 {
		t = DefaultAckTimeout
	}
	return &mllpPool{addr: addr, max: max, tls: tc, perMsg: e.Connection == PerMessage, timeout: t}
}

// exchange sends msg (whose header is m) and returns the engine's ACK for
// it: the ACK whose MSA-2 is m's MSH-10, and no other.
//
// Engines differ in how they use a connection: some keep it open, some
// close it after each reply, and some leave a stale or extra ACK on it.
// So a connection goes back to the pool only when its ACK matched and
// nothing else waits on it; one taken from the pool is checked for stray
// bytes or a close first. A write or read that fails on a reused
// connection, or an ACK for another message, drops the connection and
// the message is sent once more on a fresh one. A timeout is not retried:
// the engine may have the message, and the sender's retry (idempotent by
// digest on this box) decides.
func (p *mllpPool) exchange(ctx context.Context, m *hl7.MSH, msg []byte) (*hl7.Ack, error) {
	var last error
	for attempt := 0; attempt < 2; attempt++ {
		c, reused, err := p.get(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		a, err := p.once(ctx, c, m, msg)
		switch {
		case err == nil:
			p.put(c)
			return a, nil
		case errors.Is(err, errAckTimeout) || ctx.Err() != nil:
			c.c.Close()
			return nil, err
		case errors.Is(err, hl7.ErrAckMismatch), reused:
			// Out of step, or closed by the engine while idle: never
			// used again; the message goes once more on a fresh one.
			c.c.Close()
			last = err
			continue
		default:
			c.c.Close()
			return nil, err
		}
	}
	return nil, last
}

// once writes msg on c and reads one ACK within the ACK timeout.
func (p *mllpPool) once(ctx context.Context, c *mllpConn, m *hl7.MSH, msg []byte) (*hl7.Ack, error) {
	dl := time.Now().Add(p.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	conn := c.c // once may drop c.c; the cancel hook keeps its own reference
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if err := hl7.WriteFrame(c.c, msg); err != nil {
		return nil, err
	}
	raw, err := hl7.ReadFrame(c.rd, p.max)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			return nil, fmt.Errorf("%w (%s)", errAckTimeout, p.timeout)
		}
		return nil, err
	}
	a, err := hl7.MatchAck(m, raw)
	switch {
	case err != nil:
	case p.perMessage() || c.rd.Buffered() > 0:
		// Per-message, or bytes beyond the ACK (an extra ACK): the
		// answer stands, the connection is not kept.
		c.c.Close()
		c.c = nil
	case !c.watched:
		p.watchFirstAnswer(c)
	}
	return a, err
}

// perMessage reports whether each message gets its own connection: by
// configuration, or learned from an engine that closes after each reply.
func (p *mllpPool) perMessage() bool { return p.perMsg || p.closes.Load() }

// watchFirstAnswer waits closeWatch after a connection's first answer. A
// close then means the engine closes after each reply (learned for the
// pool); any bytes are a stray answer. Either way the connection is not
// kept; a connection still open and quiet is.
func (p *mllpPool) watchFirstAnswer(c *mllpConn) {
	c.watched = true
	c.c.SetReadDeadline(time.Now().Add(closeWatch))
	_, err := c.rd.Peek(1)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return // put clears the deadline
	}
	if errors.Is(err, io.EOF) {
		p.closes.Store(true)
	}
	c.c.Close()
	c.c = nil
}

// get returns an idle connection (unless fresh is set) that is still open
// and holds no stray bytes, or dials a new one.
func (p *mllpPool) get(ctx context.Context, fresh bool) (*mllpConn, bool, error) {
	for !fresh && !p.perMessage() {
		c := p.pop()
		if c == nil {
			break
		}
		if quiet(c) {
			return c, true, nil
		}
		c.c.Close()
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			c.Close()
			return nil, false, fmt.Errorf("TLS handshake: %w", err)
		}
		c = tc
	}
	return &mllpConn{c: c, rd: bufio.NewReader(c)}, false, nil
}

// quiet reports whether an idle connection is open with nothing to read:
// a stale ACK, or a close by the engine, would otherwise be taken for the
// next message's answer or cost it a failed write. It peeks at the
// socket without blocking (for MLLPS, any bytes at all: a stray record or
// a close_notify).
func quiet(c *mllpConn) bool {
	if c.rd.Buffered() > 0 {
		return false
	}
	raw := c.c
	if t, ok := raw.(*tls.Conn); ok {
		raw = t.NetConn()
	}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	idle := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		idle = errors.Is(rerr, syscall.EAGAIN)
		return true
	})
	return err == nil && idle
}

func (p *mllpPool) pop() *mllpConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	c := p.idle[n-1]
	p.idle = p.idle[:n-1]
	return c
}

func (p *mllpPool) put(c *mllpConn) {
	if c.c == nil {
		return // closed after its answer
	}
	c.c.SetDeadline(time.Time{})
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perMessage() || len(p.idle) >= maxIdleMLLP {
		c.c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

func (p *mllpPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.idle {
		c.c.Close()
	}
	p.idle = nil
}
