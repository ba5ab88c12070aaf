package peerproto

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
)

var errNoTPM = errors.New("this test box has no TPM")

// box serves a real attester (or none: then every TPM request fails, and
// the test sees whether the handler asked). It counts the TPM work it was
// asked for, which is what an attacker would try to cause.
type box struct {
	att   *attest.Attester
	wg    [32]byte
	rk    ed25519.PublicKey
	peers map[string]netip.Addr // name -> its underlay address

	mu       sync.Mutex // one TPM command sequence at a time, as the Box contract asks
	tpmCalls int
	hellos   []string
}

func newBox(att *attest.Attester, peers ...string) *box {
	b := &box{att: att, peers: map[string]netip.Addr{}}
	rand.Read(b.wg[:])
	b.rk, _, _ = ed25519.GenerateKey(rand.Reader)
	for _, p := range peers {
		b.peers[p] = netip.MustParseAddr("127.0.0.1")
	}
	return b
}

func (b *box) CheckPeer(name string, remote netip.Addr) error {
	addr, ok := b.peers[name]
	if !ok {
		return ErrUnknownPeer
	}
	if addr != remote {
		return fmt.Errorf("%w: %s is at %s, not %s", ErrWrongSource, name, addr, remote)
	}
	return nil
}

func (b *box) tpm() (*attest.Attester, func(), error) {
	b.mu.Lock()
	b.tpmCalls++
	if b.att == nil {
		b.mu.Unlock()
		return nil, nil, errNoTPM
	}
	return b.att, b.mu.Unlock, nil
}

func (b *box) Identity(ctx context.Context) (*attest.Identity, error) {
	a, done, err := b.tpm()
	if err != nil {
		return nil, err
	}
	defer done()
	return a.Identity(ctx)
}

func (b *box) ActivateCredential(ctx context.Context, ch *attest.Challenge) (*attest.ChallengeResponse, error) {
	a, done, err := b.tpm()
	if err != nil {
		return nil, err
	}
	defer done()
	return a.ActivateCredential(ctx, ch)
}

func (b *box) Evidence(ctx context.Context, nonce []byte) (*attest.Evidence, error) {
	a, done, err := b.tpm()
	if err != nil {
		return nil, err
	}
	defer done()
	return a.Evidence(ctx, nonce, b.wg, b.rk)
}

func (b *box) Hello(peer string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hellos = append(b.hellos, peer)
}

func (b *box) calls() (tpm int, hellos []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tpmCalls, append([]string(nil), b.hellos...)
}

// serve starts the attester side of b over TLS and returns its host:port.
func serve(t *testing.T, b Box, budget Budget) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(NewHandler(b, budget, testutil.Logger(t)))
	tc, err := SelfSignedTLS("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = tc
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func endpoint(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "https://") }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRoundTrip runs the whole protocol between a client and the handler
// serving a real attester on the simulated TPM, and appraises the result
// with a real verifier: the pair must carry what attestation needs, and
// the evidence must bind the serving box's keys.
func TestRoundTrip(t *testing.T) {
	fx := attesttest.New(t)
	b := newBox(fx.Attester(), "hospital-b")
	srv := serve(t, b, DefaultBudget)
	c := NewClient("hospital-b", endpoint(srv))
	ctx := ctxT(t)

	v, err := fx.Verifier("hospital-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Identity(ctx)
	if err != nil {
		t.Fatalf("identity: %v", err)
	}
	ch, err := v.Challenge(ctx, "hospital-a", id)
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	resp, err := c.Activate(ctx, ch)
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	if err := v.Activate(ctx, "hospital-a", resp); err != nil {
		t.Fatalf("activation: %v", err)
	}
	nonce, err := v.Nonce("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	ev, wg, rk, err := c.Evidence(ctx, nonce)
	if err != nil {
		t.Fatalf("evidence: %v", err)
	}
	if wg != b.wg || !rk.Equal(b.rk) {
		t.Fatal("the client returned other keys than the box bound")
	}
	verdict, _, err := v.Appraise(ctx, "hospital-a", nonce, ev, wg, rk)
	if err != nil || !verdict.Passed() {
		t.Fatalf("appraisal: err %v, reasons %v", err, verdict.Reasons())
	}
	if err := c.Hello(ctx); err != nil {
		t.Fatalf("hello: %v", err)
	}
	if _, hellos := b.calls(); len(hellos) != 1 || hellos[0] != "hospital-b" {
		t.Fatalf("hellos %q, want [hospital-b]", hellos)
	}
}

// TestUnknownPeerRefused: a box that is not a configured peer gets 403 on
// every path and causes no TPM work.
func TestUnknownPeerRefused(t *testing.T) {
	b := newBox(nil, "hospital-b")
	srv := serve(t, b, DefaultBudget)
	c := NewClient("mallory", endpoint(srv))
	ctx := ctxT(t)

	_, err := c.Identity(ctx)
	wantRefused(t, "identity", err, "403", "unknown box")
	_, err = c.Activate(ctx, &attest.Challenge{Version: attest.ProtocolVersion, Credential: []byte{1}, Secret: []byte{2}})
	wantRefused(t, "activate", err, "403", "unknown box")
	_, _, _, err = c.Evidence(ctx, make([]byte, 32))
	wantRefused(t, "evidence", err, "403", "unknown box")
	wantRefused(t, "hello", c.Hello(ctx), "403", "unknown box")
	if tpm, hellos := b.calls(); tpm != 0 || len(hellos) != 0 {
		t.Fatalf("an unknown box caused %d TPM calls and hellos %q", tpm, hellos)
	}
}

func wantRefused(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted", what)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Fatalf("%s: a refusal reported as unreachable: %v", what, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: error %q does not say %q", what, err, w)
		}
	}
}

// TestBadRequestsRefused sends what a hostile caller might, raw: each is
// refused with a status and a message saying what is wrong, before any
// TPM work.
func TestBadRequestsRefused(t *testing.T) {
	b := newBox(nil, "hospital-b")
	srv := serve(t, b, DefaultBudget)
	nonce := `"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`
	huge := `{"from":"hospital-b","nonce":"` + strings.Repeat("A", MaxRequestBody) + `"}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		says             string
	}{
		{"oversized", pathEvidence, huge, 400, "request body too large"},
		{"oversized challenge", pathActivate, strings.Repeat("x", MaxRequestBody+1), 413, "too large"},
		{"not JSON", pathIdentity, `from=hospital-b`, 400, "bad request body"},
		{"unknown field", pathIdentity, `{"from":"hospital-b","admin":true}`, 400, "unknown field"},
		{"trailing data", pathHello, `{"from":"hospital-b"} {}`, 400, "trailing data"},
		{"no from", pathHello, `{}`, 400, "not a box name"},
		{"long from", pathHello, `{"from":"` + strings.Repeat("b", 64) + `"}`, 400, "not a box name"},
		{"odd from", pathHello, `{"from":"Hospital B"}`, 400, "not a box name"},
		{"short nonce", pathEvidence, `{"from":"hospital-b","nonce":"AAAA"}`, 400, "nonce is 3 bytes"},
		{"no nonce", pathEvidence, `{"from":"hospital-b"}`, 400, "nonce is 0 bytes"},
		{"bad challenge", pathActivate, `{"version":"v0"}`, 400, "bad challenge"},
		{"unknown path", "/v1/attest/admin", `{"from":"hospital-b","nonce":` + nonce + `}`, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, srv, tc.path, "hospital-b", tc.body)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Fatalf("got %d %q, want %d saying %q", status, body, tc.status, tc.says)
			}
		})
	}
	if status, _ := get(t, srv, pathIdentity); status != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %d, want 405", pathIdentity, status)
	}
	if tpm, _ := b.calls(); tpm != 0 {
		t.Fatalf("bad requests caused %d TPM calls", tpm)
	}
}

// TestTPMBudget: each peer has its own budget. Past its own, a peer's
// quotes and activations are answered 429 with Retry-After and reach no
// TPM; identity (cached by the box) still works. Another peer, whose name
// the flood did not use, still gets its quote.
func TestTPMBudget(t *testing.T) {
	b := newBox(nil, "hospital-b", "hospital-c")
	srv := serve(t, b, Budget{TPM: rate.Every(time.Hour), TPMBurst: 1, Hello: rate.Every(time.Hour), HelloBurst: 1})
	evidence := func(from string) string {
		return `{"from":"` + from + `","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`
	}
	if status, body := post(t, srv, pathEvidence, "hospital-c", evidence("hospital-c")); status != 500 || !strings.Contains(body, errNoTPM.Error()) {
		t.Fatalf("first quote: %d %q, want the box's own failure", status, body)
	}
	for _, path := range []string{pathEvidence, pathActivate} {
		req := evidence("hospital-c")
		if path == pathActivate {
			req = `{"version":"wardgate/attest/v1","credential":"AQ==","secret":"Ag=="}`
		}
		resp := postResp(t, srv, path, "hospital-c", req)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), "too many attestation requests") {
			t.Fatalf("%s over budget: %d Retry-After %q %q", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if status, body := post(t, srv, pathEvidence, "hospital-b", evidence("hospital-b")); status != 500 || !strings.Contains(body, errNoTPM.Error()) {
		t.Fatalf("b's quote after a flood in c's name: %d %q, want it to reach the TPM", status, body)
	}
	if tpm, _ := b.calls(); tpm != 2 {
		t.Fatalf("%d TPM calls, want the 2 within budget (one each)", tpm)
	}
	_, _, _, err := NewClient("hospital-c", endpoint(srv)).Evidence(ctxT(t), make([]byte, 32))
	wantRefused(t, "client over budget", err, "429")
}

// TestHelloBudget: hellos, each of which makes the box appraise the peer
// at once, are limited per peer too.
func TestHelloBudget(t *testing.T) {
	b := newBox(nil, "hospital-b", "hospital-c")
	srv := serve(t, b, Budget{TPM: 1, TPMBurst: 1, Hello: rate.Every(time.Hour), HelloBurst: 2})
	for i, want := range []int{202, 202, 429, 429} {
		if status, _ := post(t, srv, pathHello, "hospital-c", `{"from":"hospital-c"}`); status != want {
			t.Fatalf("hello %d in c's name: %d, want %d", i, status, want)
		}
	}
	if status, _ := post(t, srv, pathHello, "hospital-b", `{"from":"hospital-b"}`); status != http.StatusAccepted {
		t.Fatalf("b's hello after c's flood: %d, want 202", status)
	}
	if _, hellos := b.calls(); len(hellos) != 3 {
		t.Fatalf("hellos %q, want c twice and b once", hellos)
	}
}

// TestWrongSourceRefused: a request naming a configured peer from another
// address than that peer's is refused 403 before any TPM work or hello.
func TestWrongSourceRefused(t *testing.T) {
	b := newBox(nil)
	b.peers["hospital-b"] = netip.MustParseAddr("192.0.2.7")
	srv := serve(t, b, DefaultBudget)
	c := NewClient("hospital-b", endpoint(srv))
	ctx := ctxT(t)
	_, err := c.Identity(ctx)
	wantRefused(t, "identity", err, "403", "configured underlay address")
	_, err = c.Activate(ctx, &attest.Challenge{Version: attest.ProtocolVersion, Credential: []byte{1}, Secret: []byte{2}})
	wantRefused(t, "activate", err, "403", "configured underlay address")
	_, _, _, err = c.Evidence(ctx, make([]byte, 32))
	wantRefused(t, "evidence", err, "403", "configured underlay address")
	wantRefused(t, "hello", c.Hello(ctx), "403", "configured underlay address")
	if tpm, hellos := b.calls(); tpm != 0 || len(hellos) != 0 {
		t.Fatalf("a caller at the wrong address caused %d TPM calls and hellos %q", tpm, hellos)
	}
}

// TestClientBoundsPeer: the verifier side must survive a hostile or absent
// peer: oversized and malformed answers are errors, and a peer that is not
// there is ErrUnreachable (retried sooner), not a refusal.
func TestClientBoundsPeer(t *testing.T) {
	ctx := ctxT(t)
	hostile := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case pathIdentity:
			w.Write([]byte(`{"version":"wardgate/attest/v1","ek_cert":"` + strings.Repeat("A", MaxResponseBody) + `"}`))
		case pathEvidence:
			w.Write([]byte(`{"version":`))
		default:
			http.Error(w, strings.Repeat("z", 4096), http.StatusTeapot)
		}
	}))
	t.Cleanup(hostile.Close)
	c := NewClient("hospital-b", endpoint(hostile))
	_, err := c.Identity(ctx)
	wantRefused(t, "oversized identity", err, "response larger than")
	_, _, _, err = c.Evidence(ctx, make([]byte, 32))
	wantRefused(t, "truncated evidence", err)
	err = c.Hello(ctx)
	wantRefused(t, "teapot", err, "418")
	if len(err.Error()) > 1024 {
		t.Fatalf("the peer's error text is not bounded: %d bytes", len(err.Error()))
	}

	hostile.Close()
	if err := c.Hello(ctx); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("closed peer: %v, want ErrUnreachable", err)
	}
}

// attacker is a caller that, like every peer, does not check the
// listener's self-signed certificate.
var attacker = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
}}

func postResp(t *testing.T, srv *httptest.Server, path, from, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(headerFrom, from)
	resp, err := attacker.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func post(t *testing.T, srv *httptest.Server, path, from, body string) (int, string) {
	t.Helper()
	resp := postResp(t, srv, path, from, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := attacker.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
