package netlimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serve runs lim's HTTP server on a capped loopback listener (wrapped by
// wrap first, if set) and returns its address.
func serve(t *testing.T, lim Limits, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	inner := net.Listener(ln)
	if wrap != nil {
		inner = wrap(ln)
	}
	srv := lim.HTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	done := make(chan struct{})
	go func() { srv.Serve(Listen(inner, lim)); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return addr
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get makes one request from src and wants 200 "ok".
func get(t *testing.T, src, addr string) {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, a string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		return d.DialContext(ctx, "tcp", a)
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("legit client from %s: %v", src, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("legit client from %s: %d %q", src, resp.StatusCode, b)
	}
}

func closedWithin(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: connection still open after %v", what, d)
		}
		return
	}
}

// Slowloris headers, a body that never completes, an idle keep-alive
// connection and a half-open flood past the per-source cap are each cut
// off, while a client from another host is served throughout.
func TestHTTPBoundedConnections(t *testing.T) {
	lim := Limits{MaxConns: 64, MaxConnsPerSource: 6, ReadHeaderTimeout: 300 * time.Millisecond,
		ReadTimeout: 1500 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	addr := serve(t, lim, nil)

	slowHeaders := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprint(slowHeaders, "GET / HTTP/1.1\r\nHost: x\r\n")
	slowBody := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprint(slowBody, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc")
	var flood []net.Conn
	for range 10 {
		flood = append(flood, dialFrom(t, "127.0.0.1", addr))
	}
	closedWithin(t, flood[len(flood)-1], 200*time.Millisecond, "connection over the per-source cap")
	get(t, "127.0.0.2", addr)

	closedWithin(t, slowHeaders, 900*time.Millisecond, "slowloris headers (before the read timeout)")
	closedWithin(t, slowBody, 3*time.Second, "slow body")
	for _, c := range flood {
		closedWithin(t, c, 3*time.Second, "half-open flood")
	}
	get(t, "127.0.0.1", addr)

	// An idle keep-alive connection is closed after IdleTimeout.
	idle := dialFrom(t, "127.0.0.7", addr)
	fmt.Fprint(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 512)
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle.Read(buf); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, idle, time.Second, "idle keep-alive (before the read timeout)")
}

// The total cap holds across sources.
func TestHTTPTotalCap(t *testing.T) {
	addr := serve(t, Limits{MaxConns: 3, MaxConnsPerSource: 3, ReadHeaderTimeout: 5 * time.Second}, nil)
	for _, src := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		dialFrom(t, src, addr)
	}
	closedWithin(t, dialFrom(t, "127.0.0.6", addr), 300*time.Millisecond, "connection over the total cap")
}

type emfileListener struct {
	net.Listener
	mu sync.Mutex
	n  int
}

// Accept fails with the error a process out of descriptors gets, n times.
func (l *emfileListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.n > 0
	l.n--
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// EMFILE at Accept is temporary: the server backs off and serves again.
func TestHTTPSurvivesEMFILE(t *testing.T) {
	addr := serve(t, Limits{}, func(ln net.Listener) net.Listener { return &emfileListener{Listener: ln, n: 5} })
	get(t, "127.0.0.1", addr)
	if !Temporary(&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}) {
		t.Fatal("EMFILE not temporary")
	}
	if Temporary(net.ErrClosed) {
		t.Fatal("a closed listener is temporary")
	}
}
