package peerproto

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/wardgate/wardgate/internal/testutil"
)

// TestListenerBoundsFlood: one host that opens connections and sends
// nothing can fill only its own share of the attestation listener. Past
// ListenLimits.MaxConnsPerSource its connections are closed at once, and a
// configured peer on another address still gets its identity.
func TestListenerBoundsFlood(t *testing.T) {
	b := newBox(nil, "hospital-b")
	tc, err := SelfSignedTLS("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(NewHandler(b, DefaultBudget, testutil.Logger(t)), tc, testutil.QuietLogger())
	go srv.ServeTLS(Listen(raw), "", "")
	t.Cleanup(func() { srv.Close() })
	addr := raw.Addr().String()

	flooder := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	for i := range ListenLimits.MaxConnsPerSource {
		c, err := flooder.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// Give the server a moment to accept them all before the one over the cap.
	time.Sleep(200 * time.Millisecond)
	over, err := flooder.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("connection %d from one source: read gave %v, want it closed at once (EOF or reset)", ListenLimits.MaxConnsPerSource+1, err)
	}

	c := NewClient("hospital-b", addr)
	if err := c.Hello(ctxT(t)); err != nil {
		t.Fatalf("a configured peer was not served during the flood: %v", err)
	}
	if _, hellos := b.calls(); len(hellos) != 1 {
		t.Fatalf("hellos %q, want the configured peer's", hellos)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded)
}
