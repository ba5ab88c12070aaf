// Package netlimit bounds what network clients can hold on a listener: a
// total connection cap and a per-source cap, enforced at Accept, and the
// HTTP server timeouts every wardgate listener shares. A connection over
// a cap is closed at once and Accept goes on, so a flood from one host
// (or many) refuses new clients without stopping the listener.
package netlimit

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound a listener. Zero fields take the defaults below.
type Limits struct {
	MaxConns          int           // open connections in total
	MaxConnsPerSource int           // open connections from one source IP
	ReadHeaderTimeout time.Duration // HTTP: request line and headers
	ReadTimeout       time.Duration // HTTP: a whole request, body included; MLLP: one frame
	IdleTimeout       time.Duration // between requests (HTTP) or frames (MLLP)
}

// Defaults. A record body of max_body (16 MiB) at 1 Mbit/s takes ~2 min.
// An interface engine or a peer's relay may hold hundreds of connections
// at once (one per record in flight), so the per-source cap is generous:
// it bounds a flood, with the timeouts, rather than shaping traffic.
const (
	DefaultMaxConns          = 2048
	DefaultMaxConnsPerSource = 1024
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 2 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// WithDefaults fills zero fields.
func (l Limits) WithDefaults() Limits {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&l.MaxConns, DefaultMaxConns)
	set(&l.MaxConnsPerSource, DefaultMaxConnsPerSource)
	setD(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setD(&l.ReadTimeout, DefaultReadTimeout)
	setD(&l.IdleTimeout, DefaultIdleTimeout)
	return l
}

// HTTPServer returns a server for h with l's timeouts (and bounded
// headers). Serve it on Listen(ln, l) for the connection caps.
func (l Limits) HTTPServer(h http.Handler) *http.Server {
	l = l.WithDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// Listener is a net.Listener with connection caps.
type Listener struct {
	net.Listener
	lim     Limits
	mu      sync.Mutex
	total   int
	bySrc   map[netip.Addr]int
	refused atomic.Uint64
}

// Listen wraps ln with l's connection caps.
func Listen(ln net.Listener, l Limits) *Listener {
	return &Listener{Listener: ln, lim: l.WithDefaults(), bySrc: map[netip.Addr]int{}}
}

// Refused counts connections closed at Accept for being over a cap.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Accept returns the next connection within the caps; connections over a
// cap are closed without a byte read.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c)
		if l.admit(src) {
			return &conn{Conn: c, l: l, src: src}, nil
		}
		l.refused.Add(1)
		c.Close()
	}
}

func (l *Listener) admit(src netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.lim.MaxConns || l.bySrc[src] >= l.lim.MaxConnsPerSource {
		return false
	}
	l.total++
	l.bySrc[src]++
	return true
}

func (l *Listener) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.bySrc[src]--; l.bySrc[src] <= 0 {
		delete(l.bySrc, src)
	}
}

// sourceOf is the client's IP (unmapped); one key for non-IP addresses.
func sourceOf(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

type conn struct {
	net.Conn
	l    *Listener
	src  netip.Addr
	once sync.Once
}

// NetConn is the accepted connection, as tls.Conn.NetConn.
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}

// Temporary reports whether an Accept error passes (EMFILE, ENFILE,
// ECONNABORTED, a timeout): the server should back off and accept again
// rather than stop.
func Temporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Backoff is the pause after the n-th consecutive temporary Accept error
// (5 ms doubling to 1 s), as net/http does.
func Backoff(n int) time.Duration {
	d := 5 * time.Millisecond << min(n, 8)
	return min(d, time.Second)
}
