package gateway_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/peerproto"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/testutil"
)

// TestMalformedPeer: b's answers to a go through a proxy that, once
// admitted, garbles them: first b's evidence, then its identity. Each is
// a failing verdict with its signed report (evidence-malformed, then
// identity-malformed), and b is revoked at once, not retried until expiry.
func TestMalformedPeer(t *testing.T) {
	c := newConsortium(t, []string{"a", "b"})
	a, b := c.boxes["a"], c.boxes["b"]
	var garble atomic.Value // the path whose answer is garbage, or ""
	garble.Store("")
	target := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	b.editConfig(t, func(cfg *config.Config) {
		proxyTo(t, cfg.Attestation.Listen, target, &garble)
		cfg.Attestation.Listen = target
	})
	a.start(t)
	b.start(t)
	a.waitPeer(t, "b", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })

	for _, step := range []struct{ path, code string }{
		{"/v1/attest/evidence", attest.ReasonEvidenceMalformed},
		{"/v1/attest/identity", attest.ReasonIdentityMalformed},
	} {
		garble.Store(step.path)
		p := a.waitPeer(t, "b", "refused as "+step.code, func(p control.PeerInfo) bool {
			return p.Verdict == control.VerdictFail && hasReason(p.Reasons, step.code)
		})
		if p.State != control.PeerRevoked {
			t.Errorf("b answering garbage at %s is %s, want revoked: %+v", step.path, p.State, p)
		}
		reps, err := a.g.Reports(context.Background(), control.ReportFilter{Peer: "b", Verdict: control.VerdictFail})
		if err != nil || !slices.ContainsFunc(reps, func(r control.ReportSummary) bool { return hasReason(r.Reasons, step.code) }) {
			t.Errorf("no signed failing report saying %s: %v %+v", step.code, err, reps)
		}
	}
}

// proxyTo serves, at addr (where a reaches b), a TLS proxy to b's real
// listener at target; for the path in garble it answers truncated JSON.
func proxyTo(t *testing.T, addr, target string, garble *atomic.Value) {
	t.Helper()
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "https", Host: target})
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // b's certificate is self-signed per start
	rp.ErrorLog = log.New(io.Discard, "", 0)                                               // b going away at the end is expected
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// This proxy terminates TLS, which channel binding refuses; it
		// strips the request for binding (as from a verifier that does
		// not bind) so that a sees its garbage rather than that.
		r.Header.Del(peerproto.HeaderChannel)
		if r.URL.Path == garble.Load().(string) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"version":"wardgate/attest/v1","ek_cert":`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	tc, err := peerproto.SelfSignedTLS("proxy")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = tc
	srv.StartTLS()
	t.Cleanup(srv.Close)
}
