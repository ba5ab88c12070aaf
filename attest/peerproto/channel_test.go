package peerproto

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/relay"
)

// tlsProxy terminates the verifier's TLS and opens its own TLS session to
// the box, passing every request and answer on unchanged (strip: minus
// the channel-binding header): what an active relay could do.
func tlsProxy(t *testing.T, box *httptest.Server, strip bool) string {
	t.Helper()
	target, err := url.Parse(box.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if strip {
				pr.Out.Header.Del(HeaderChannel)
			}
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}},
	}
	rp.ErrorLog = slog.NewLogLogger(testutil.Logger(t).Handler(), slog.LevelDebug)
	p := httptest.NewUnstartedServer(rp)
	if p.TLS, err = SelfSignedTLS("hospital-a"); err != nil {
		t.Fatal(err)
	}
	p.StartTLS()
	t.Cleanup(p.Close)
	return endpoint(p)
}

// appraiseRound runs one evidence round of c against v and returns the
// refusal's reason code, "" for a pass.
func appraiseRound(t *testing.T, ctx context.Context, v *attest.Verifier, c *Client) string {
	t.Helper()
	nonce, err := v.Nonce("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	ev, wg, rk, err := c.Evidence(ctx, nonce)
	if err != nil {
		t.Fatalf("evidence: %v", err)
	}
	verdict, _, err := v.Appraise(ctx, "hospital-a", nonce, ev, wg, rk)
	if err != nil {
		t.Fatal(err)
	}
	if verdict.Passed() {
		return ""
	}
	return verdict.Reasons()[0].Code
}

// TestChannelBindingMITM: a proxy that terminates TLS between a real
// verifier and a real box (simulated TPM), and passes everything on, is
// refused by name, in v1 and in batched v2; the same verifier and box
// pass directly.
func TestChannelBindingMITM(t *testing.T) {
	for _, window := range []time.Duration{0, 10 * time.Millisecond} {
		t.Run(fmt.Sprintf("batch window %s", window), func(t *testing.T) {
			fx := attesttest.New(t)
			b := &scaleBox{box: newBox(fx.Attester(), "hospital-b")}
			srv := serveConfig(t, b, HandlerConfig{Budget: DefaultBudget, BatchWindow: window})
			v, err := fx.Verifier("hospital-a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			direct := NewClient("hospital-b", endpoint(srv)).WithBatching(window > 0)
			activate(t, ctx, direct, v)
			if code := appraiseRound(t, ctx, v, direct); code != "" || !direct.peerBound.Load() {
				t.Fatalf("direct: refused %q (bound: %v), want a channel-bound pass", code, direct.peerBound.Load())
			}
			mitm := NewClient("hospital-b", tlsProxy(t, srv, false)).WithBatching(window > 0)
			if code := appraiseRound(t, ctx, v, mitm); code != attest.ReasonChannelBinding {
				t.Fatalf("through a TLS-terminating proxy: got %q, want %s", code, attest.ReasonChannelBinding)
			}
		})
	}
}

// TestChannelBindingRequired: a peer that has bound its answers cannot be
// made to answer unbound (a proxy that strips the request for binding)
// before its next first contact; an unbound answer at first contact, as
// from a box without channel binding, still passes.
func TestChannelBindingRequired(t *testing.T) {
	fx := attesttest.New(t)
	b := newBox(fx.Attester(), "hospital-b")
	srv := serve(t, b, DefaultBudget)
	v, err := fx.Verifier("hospital-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	c := NewClient("hospital-b", endpoint(srv))
	activate(t, ctx, c, v)
	if code := appraiseRound(t, ctx, v, c); code != "" {
		t.Fatalf("direct: refused %s, want a pass", code)
	}
	c.base = "https://" + tlsProxy(t, srv, true)
	nonce, err := v.Nonce("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Evidence(ctx, nonce); !errors.Is(err, ErrUnbound) {
		t.Fatalf("unbound after bound: err = %v, want ErrUnbound", err)
	}
	c.Reset() // first contact again
	if code := appraiseRound(t, ctx, v, c); code != "" {
		t.Fatalf("unbound at first contact: refused %s, want a pass", code)
	}
	// A peer reached through the relay must bind from first contact: a
	// middle stripping the header from the start is caught too.
	c.Reset()
	c.WithRequiredBinding(true)
	nonce, err = v.Nonce("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Evidence(ctx, nonce); !errors.Is(err, ErrUnbound) {
		t.Fatalf("unbound at first contact with binding required: err = %v, want ErrUnbound", err)
	}
}

// TestChannelBindingThroughRelay: attestation through the NAT relay
// passes, because TLS (and so the exporter) runs end to end between the
// boxes, over the relay's stream.
func TestChannelBindingThroughRelay(t *testing.T) {
	dir := t.TempDir()
	if err := relay.WriteDevPKI(dir, []string{"127.0.0.1"}, []string{"hospital-a", "hospital-b"}); err != nil {
		t.Fatal(err)
	}
	addr, srv := startTestRelay(t, dir)
	boxSide := relayClient(t, dir, addr, "hospital-a", "hospital-b")
	verifierSide := relayClient(t, dir, addr, "hospital-b", "hospital-a")
	// A stream to a box the relay has not registered yet is refused.
	testutil.WaitForWithin(t, 20*time.Second, "both boxes on the relay", func() bool { return len(srv.Stats().Connected) == 2 })

	fx := attesttest.New(t)
	b := newBox(fx.Attester())
	standIn, ok := boxSide.AddrOf("hospital-b")
	if !ok {
		t.Fatal("no stand-in address for hospital-b")
	}
	b.peers["hospital-b"] = standIn.Addr()
	tc, err := SelfSignedTLS("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewServer(NewHandler(b, DefaultBudget, testutil.Logger(t)), tc, testutil.Logger(t))
	go hs.ServeTLS(boxSide.Listener(), "", "")
	t.Cleanup(func() { hs.Close() })

	v, err := fx.Verifier("hospital-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	c := NewClientDial("hospital-b", "hospital-a:443", func(ctx context.Context, _, _ string) (net.Conn, error) {
		return verifierSide.DialStream(ctx, "hospital-a")
	})
	activate(t, ctx, c, v)
	if code := appraiseRound(t, ctx, v, c); code != "" || !c.peerBound.Load() {
		t.Fatalf("through the relay: refused %q (bound: %v), want a channel-bound pass", code, c.peerBound.Load())
	}
}

func startTestRelay(t *testing.T, dir string) (string, *relay.Server) {
	t.Helper()
	tc, err := relay.LoadTLS(filepath.Join(dir, "relay.pem"), filepath.Join(dir, "relay-key.pem"), filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := relay.NewServer(relay.ServerConfig{TLS: tc, Allowed: []string{"hospital-a", "hospital-b"}, Logger: testutil.Logger(t)})
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
	return ln.Addr().String(), srv
}

func relayClient(t *testing.T, dir, addr, box, peer string) *relay.Client {
	t.Helper()
	tc, err := relay.LoadTLS(filepath.Join(dir, box+".pem"), filepath.Join(dir, box+"-key.pem"), filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := relay.NewClient(relay.ClientConfig{Box: box, Addr: addr, TLS: tc, Peers: []string{peer}, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}
