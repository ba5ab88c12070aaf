package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type testRelay struct {
	dir  string
	addr string
	srv  *Server
}

func startRelay(t *testing.T, allowed ...string) *testRelay { return startRelayTB(t, allowed...) }

func startRelayTB(t testing.TB, allowed ...string) *testRelay {
	t.Helper()
	dir := t.TempDir()
	if err := WriteDevPKI(dir, []string{"127.0.0.1"}, []string{"hospital-a", "hospital-b", "outsider"}); err != nil {
		t.Fatal(err)
	}
	tc, err := LoadTLS(filepath.Join(dir, "relay.pem"), filepath.Join(dir, "relay-key.pem"), filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{TLS: tc, Allowed: allowed, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &testRelay{dir: dir, addr: ln.Addr().String(), srv: srv}
}

func (r *testRelay) client(t *testing.T, box string, peers ...string) *Client {
	return r.clientTB(t, box, peers...)
}

func (r *testRelay) clientTB(t testing.TB, box string, peers ...string) *Client {
	t.Helper()
	tc, err := LoadTLS(filepath.Join(r.dir, box+".pem"), filepath.Join(r.dir, box+"-key.pem"), filepath.Join(r.dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ClientConfig{Box: box, Addr: r.addr, TLS: tc, Peers: peers, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func waitConnected(t *testing.T, r *testRelay, boxes ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Join(r.srv.Stats().Connected, ",") == strings.Join(boxes, ",") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("connected %v, want %v", r.srv.Stats().Connected, boxes)
}

func TestRelayForwardsPacketsAndStreams(t *testing.T) {
	r := startRelay(t, "hospital-a", "hospital-b")
	a := r.client(t, "hospital-a", "hospital-b")
	b := r.client(t, "hospital-b", "hospital-a")
	waitConnected(t, r, "hospital-a", "hospital-b")

	if err := a.SendPacket("hospital-b", []byte("ciphertext")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-b.Packets():
		if p.From != "hospital-a" || string(p.Data) != "ciphertext" {
			t.Fatalf("b got %+v", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("packet not forwarded")
	}

	// A stream larger than the window, echoed back.
	go func() {
		c, err := b.Listener().Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if ap, _ := b.AddrOf("hospital-a"); c.RemoteAddr().String() != net.TCPAddrFromAddrPort(ap).String() {
			t.Errorf("accepted stream's remote %s, want hospital-a's stand-in %s", c.RemoteAddr(), ap)
		}
		io.Copy(c, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.DialStream(ctx, "hospital-b")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("attestation-"), 100_000) // 1.2 MB, several windows
	go func() { c.Write(msg) }()
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through the relay: %v", err)
	}
}

func TestRelayRefusesOutsiders(t *testing.T) {
	r := startRelay(t, "hospital-a", "hospital-b")
	a := r.client(t, "hospital-a", "hospital-b", "outsider")
	r.client(t, "outsider", "hospital-a")
	waitConnected(t, r, "hospital-a")
	time.Sleep(200 * time.Millisecond)
	if st := r.srv.Stats(); st.Refused == 0 || strings.Contains(strings.Join(st.Connected, ","), "outsider") {
		t.Fatalf("a box outside the consortium was let in: %+v", st)
	}
	// A stream to a box that is not connected fails at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := a.DialStream(ctx, "hospital-b")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || ctx.Err() != nil {
		t.Fatalf("stream to an absent box: read err %v", err)
	}
}

func TestRelayClientNeedsRelayCA(t *testing.T) {
	r := startRelay(t, "hospital-a")
	other := t.TempDir()
	if err := WriteDevPKI(other, []string{"127.0.0.1"}, nil); err != nil {
		t.Fatal(err)
	}
	tc, err := LoadTLS(filepath.Join(r.dir, "hospital-a.pem"), filepath.Join(r.dir, "hospital-a-key.pem"), filepath.Join(other, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var log lockedLog
	c, err := NewClient(ClientConfig{Box: "hospital-a", Addr: r.addr, TLS: tc, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	// Wait for the first attempt's outcome, however slow the machine is.
	for ctx.Err() == nil && !log.has("relay connected") && !log.has("relay connection lost") {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if log.has("relay connected") || len(r.srv.Stats().Connected) != 0 {
		t.Fatalf("a box connected to a relay whose certificate its relay CA did not issue:\n%s", log.String())
	}
	if !log.has("certificate") {
		t.Fatalf("the refusal does not name the certificate:\n%s", log.String())
	}
}

// lockedLog is a log sink the client's goroutines write while the test reads.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedLog) has(s string) bool { return strings.Contains(l.String(), s) }

// TestStreamWindowBound: a peer (or relay) that sends a stream more than
// the window its receiver granted has the stream reset, so a box holds at
// most streamWindow unread bytes per stream.
func TestStreamWindowBound(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDevPKI(dir, []string{"127.0.0.1"}, []string{"hospital-a"}); err != nil {
		t.Fatal(err)
	}
	tc, err := LoadTLS(filepath.Join(dir, "hospital-a.pem"), filepath.Join(dir, "hospital-a-key.pem"), filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ClientConfig{Box: "hospital-a", Addr: "127.0.0.1:1", TLS: tc, Peers: []string{"hospital-b"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	conn, other := net.Pipe()
	defer other.Close()
	s := newSession(c, conn)
	defer s.teardown()
	s.dispatch(Frame{Type: TypeOpen, Box: "hospital-b", Stream: 1})
	app, err := c.Listener().Accept()
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, MaxPayload)
	for i := 0; i <= streamWindow/MaxPayload; i++ { // one frame more than the window
		s.dispatch(Frame{Type: TypeData, Box: "hospital-b", Stream: 1, Payload: chunk})
	}
	app.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := app.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("a stream sent past its window: read err %v, want the stream reset", err)
	}
}
