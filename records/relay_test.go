package records

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/devchain"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/hl7"
	"github.com/wardgate/wardgate/records/receipt"
)

// verdictMap is this box's view of its peers' current verdicts (the daemon
// keeps the same from the tunnel's admissions). The verdicts are real ones
// from the attest fixture.
type verdictMap struct {
	mu sync.Mutex
	m  map[string]*attest.Verdict
}

func (v *verdictMap) Verdict(peer string) *attest.Verdict {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[peer]
}

func (v *verdictMap) set(peer string, vd *attest.Verdict) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if vd == nil {
		delete(v.m, peer)
		return
	}
	v.m[peer] = vd
}

// clock lets a test move a box's time forward (verdict expiry) without sleeping.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// lanEndpoint is a hospital system behind the receiving box.
type lanEndpoint struct {
	mu    sync.Mutex
	got   [][]byte
	types []string
	hdrs  []http.Header
}

func (e *lanEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.got = append(e.got, b)
	e.types = append(e.types, r.Header.Get("Content-Type"))
	e.hdrs = append(e.hdrs, r.Header.Clone())
	e.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (e *lanEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

// recBox is one hospital box in the test: a ledger, a relay, a peer listener
// on loopback (standing in for the tunnel listener) and a LAN listener.
type recBox struct {
	name     string
	dir      string
	signer   *proof.KeySigner
	l        *ledger.Ledger
	r        *Relay
	verdicts *verdictMap
	clk      *clock
	lanURL   string
}

// recNet routes peer names to loopback addresses (the test's tunnel).
type recNet struct {
	mu    sync.Mutex
	addrs map[string]string
}

func (n *recNet) dial(ctx context.Context, peer string) (net.Conn, error) {
	n.mu.Lock()
	addr, ok := n.addrs[peer]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no route to %q", peer)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func serveHTTP(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func newRecBox(t testing.TB, n *recNet, name string, deliver Delivery, mod func(*Config), chain ...*ledger.Chain) *recBox {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := proof.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	b := &recBox{name: name, dir: t.TempDir(), signer: signer, verdicts: &verdictMap{m: map[string]*attest.Verdict{}}, clk: &clock{}}
	lcfg := ledger.Config{Box: name, StateDir: b.dir, Signer: signer,
		CheckpointInterval: time.Hour, CheckpointEntries: 1 << 40, Logger: testutil.EnvLogger()}
	if len(chain) > 0 {
		lcfg.Chain = chain[0]
	}
	b.l, err = ledger.Open(context.Background(), lcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.l.Close() })
	cfg := Config{Box: name, Ledger: b.l, RecordKey: signer, Verdicts: b.verdicts, Dial: n.dial, Deliver: deliver,
		MaxBody: 64 << 10, ForwardTimeout: 10 * time.Second, Now: b.clk.now, Logger: testutil.EnvLogger()}
	if mod != nil {
		mod(&cfg)
	}
	if b.r, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.r.Close() })
	addr := serveHTTP(t, b.r.PeerHandler())
	n.mu.Lock()
	n.addrs[name] = addr
	n.mu.Unlock()
	b.lanURL = "http://" + serveHTTP(t, b.r.LANHandler())
	return b
}

// admit makes each box hold a real passing verdict for the other.
func admit(t testing.TB, f *attesttest.Fixture, a, b *recBox) {
	t.Helper()
	a.verdicts.set(b.name, f.Pass(t, b.name, [32]byte{1}, b.signer.Public(), time.Hour))
	b.verdicts.set(a.name, f.Pass(t, a.name, [32]byte{2}, a.signer.Public(), time.Hour))
}

// fixture is the attest fixture, shared per process (one TPM simulator).
func fixture(t testing.TB) *attesttest.Fixture { return attesttest.New(t) }

type recPair struct {
	a, b *recBox
	ep   *lanEndpoint
	f    *attesttest.Fixture
	n    *recNet
}

func newRecPair(t testing.TB) *recPair {
	t.Helper()
	f := fixture(t)
	n := &recNet{addrs: map[string]string{}}
	ep := &lanEndpoint{}
	epURL := "http://" + serveHTTP(t, ep) + "/fhir"
	p := &recPair{f: f, ep: ep, n: n,
		a: newRecBox(t, n, "st-mary", Delivery{}, nil),
		b: newRecBox(t, n, "city-general", Delivery{HTTPURL: epURL}, nil)}
	admit(t, f, p.a, p.b)
	return p
}

// post sends a record to box's LAN API and returns status and body.
func post(t testing.TB, b *recBox, to, ctype string, body []byte) (int, []byte) {
	t.Helper()
	return postTo(t, b, "/v1/records", to, ctype, body)
}

func postTo(t testing.TB, b *recBox, path, to, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.lanURL+path, bytes.NewReader(body))
	if to != "" {
		req.Header.Set("To", to)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func parseReceipt(t *testing.T, b []byte) *receipt.Receipt {
	t.Helper()
	var rc receipt.Receipt
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatalf("receipt %s: %v", b, err)
	}
	return &rc
}

// wantRefusal checks a JSON refusal's status and code.
func wantRefusal(t *testing.T, status int, body []byte, wantStatus int, wantCode, wantText string) {
	t.Helper()
	var pe peerError
	json.Unmarshal(body, &pe)
	if status != wantStatus || pe.Code != wantCode || !strings.Contains(pe.Error, wantText) {
		t.Fatalf("got %d %s, want %d code %q mentioning %q", status, body, wantStatus, wantCode, wantText)
	}
}

func fhirBundle(marker string) []byte {
	return []byte(`{"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"Patient",` +
		`"name":[{"family":"` + marker + `","given":["Jane"]}],"birthDate":"1980-01-01"}}]}`)
}

func randMarker(t *testing.T) string {
	b := make([]byte, 12)
	rand.Read(b)
	return "PATIENT-" + hex.EncodeToString(b)
}

// noBodyOnDisk fails if any file under dirs holds marker, in bytes or in
// base64.
func noBodyOnDisk(t *testing.T, marker string, dirs ...string) {
	t.Helper()
	testutil.NoneAtRest(t, []string{marker}, dirs...)
}

func TestFHIROverHTTPEndToEnd(t *testing.T) {
	// Both boxes' temporary files land where the test looks for bodies.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	p := newRecPair(t)
	marker := randMarker(t)
	body := fhirBundle(marker)
	status, out := post(t, p.a, "city-general", "application/fhir+json", body)
	if status != http.StatusOK {
		t.Fatalf("POST: %d %s", status, out)
	}
	rc := parseReceipt(t, out)
	digest := sha256.Sum256(body)
	if rc.Digest != digest || rc.Status != proof.StatusPending || rc.Sender != "st-mary" || rc.Receiver != "city-general" || rc.ContentType != "application/fhir+json" {
		t.Fatalf("receipt header %+v", rc)
	}
	// The hospital endpoint behind B got the record, as sent.
	if p.ep.count() != 1 || !bytes.Equal(p.ep.got[0], body) || p.ep.types[0] != "application/fhir+json" ||
		p.ep.hdrs[0].Get("Wardgate-Sender") != "st-mary" || p.ep.hdrs[0].Get("Wardgate-Digest") != hex.EncodeToString(digest[:]) {
		t.Fatalf("delivered %d records: %q %v", p.ep.count(), p.ep.got, p.ep.types)
	}
	// Offline verification with the attested keys and the record itself.
	ctx := context.Background()
	res, err := receipt.VerifyReceipt(ctx, rc, p.a.signer.Public(), p.b.signer.Public(), proof.VerifyOptions{Record: body})
	if err != nil {
		t.Fatalf("receipt does not verify: %v", err)
	}
	if res.Entry.Kind != proof.KindSent || res.KeyFromReceipt {
		t.Fatalf("verified %+v", res)
	}
	// It fails against another record, another sender key, another receiver key.
	if _, err := receipt.VerifyReceipt(ctx, rc, p.a.signer.Public(), nil, proof.VerifyOptions{Record: fhirBundle("other")}); !errors.Is(err, proof.ErrDigestMismatch) {
		t.Fatalf("other record: %v", err)
	}
	if _, err := receipt.VerifyReceipt(ctx, rc, p.b.signer.Public(), nil, proof.VerifyOptions{}); !errors.Is(err, proof.ErrWrongKey) {
		t.Fatalf("wrong sender key: %v", err)
	}
	if _, err := receipt.VerifyReceipt(ctx, rc, p.a.signer.Public(), p.a.signer.Public(), proof.VerifyOptions{}); !errors.Is(err, receipt.ErrBadCountersign) {
		t.Fatalf("wrong receiver key: %v", err)
	}
	// Both logs hold their entry.
	if n := len(p.b.l.Lookup(digest)); n != 1 {
		t.Fatalf("receiver journaled %d entries", n)
	}
	recvEntry, _ := p.b.l.Entry(ctx, p.b.l.Lookup(digest)[0])
	if recvEntry.Kind != proof.KindReceived || recvEntry.Sender != "st-mary" || recvEntry.VerifySignature(p.b.signer.Public()) != nil {
		t.Fatalf("receiver entry %+v", recvEntry)
	}
	// GET /v1/receipts/{digest} returns the same receipt with its countersignature.
	st, got := get(t, p.a.lanURL+"/v1/receipts/"+hex.EncodeToString(digest[:]))
	if st != http.StatusOK {
		t.Fatalf("GET receipt: %d %s", st, got)
	}
	rc2, err := receipt.ParseReceipt(got)
	if err != nil {
		t.Fatalf("ParseReceipt: %v", err)
	}
	if _, err := receipt.VerifyReceipt(ctx, rc2, p.a.signer.Public(), p.b.signer.Public(), proof.VerifyOptions{Record: body}); err != nil {
		t.Fatalf("fetched receipt: %v", err)
	}
	// The receiver can fetch its side too.
	if st, got := get(t, p.b.lanURL+"/v1/receipts/"+hex.EncodeToString(digest[:])); st != http.StatusOK || parseReceipt(t, got).Kind != "received" {
		t.Fatalf("receiver GET: %d %s", st, got)
	}
	st, got = get(t, p.a.lanURL+"/v1/receipts/"+strings.Repeat("ab", 32))
	wantRefusal(t, st, got, http.StatusNotFound, "not_found", "no receipt")
	st, got = get(t, p.a.lanURL+"/v1/receipts/xyz")
	wantRefusal(t, st, got, http.StatusBadRequest, codeBadRequest, "64 hex")
	// Bodies stay in memory: nothing in either state dir holds the record.
	p.a.l.Close()
	p.b.l.Close()
	noBodyOnDisk(t, marker, p.a.dir, p.b.dir, tmp)
}

func TestRefusals(t *testing.T) {
	p := newRecPair(t)
	body := fhirBundle(randMarker(t))
	digest := sha256.Sum256(body)
	nothingSent := func(t *testing.T) {
		t.Helper()
		if n := len(p.a.l.Lookup(digest)); n != 0 {
			t.Fatalf("sender journaled %d entries for a refused record", n)
		}
		if n := len(p.b.l.Lookup(digest)); n != 0 || p.ep.count() != 0 {
			t.Fatalf("receiver journaled %d entries, delivered %d", n, p.ep.count())
		}
	}
	t.Run("missing To", func(t *testing.T) {
		st, out := post(t, p.a, "", "application/fhir+json", body)
		wantRefusal(t, st, out, http.StatusBadRequest, codeBadRequest, "To:")
		nothingSent(t)
	})
	t.Run("not admitted", func(t *testing.T) {
		st, out := post(t, p.a, "unknown-clinic", "application/fhir+json", body)
		wantRefusal(t, st, out, http.StatusForbidden, codeNotAdmitted, `"unknown-clinic" has no verdict`)
		nothingSent(t)
	})
	t.Run("failed verdict", func(t *testing.T) {
		p.a.verdicts.set("tampered", p.f.Fail(t, "tampered", [32]byte{3}, p.b.signer.Public()))
		st, out := post(t, p.a, "tampered", "application/fhir+json", body)
		wantRefusal(t, st, out, http.StatusForbidden, codeNotAdmitted, "failed attestation")
		nothingSent(t)
	})
	t.Run("oversize body", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 64<<10+1)
		st, out := post(t, p.a, "city-general", "application/octet-stream", big)
		wantRefusal(t, st, out, http.StatusRequestEntityTooLarge, codeTooLarge, "limit of 65536 bytes")
		if n := len(p.a.l.Lookup(sha256.Sum256(big))); n != 0 || p.ep.count() != 0 {
			t.Fatalf("oversize record journaled (%d) or delivered (%d)", n, p.ep.count())
		}
		// The same without a Content-Length (chunked): cut off at the limit.
		req, _ := http.NewRequest(http.MethodPost, p.a.lanURL+"/v1/records", io.MultiReader(bytes.NewReader(big)))
		req.Header.Set("To", "city-general")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		wantRefusal(t, resp.StatusCode, out, http.StatusRequestEntityTooLarge, codeTooLarge, "exceeds the limit of 65536 bytes")
		if p.ep.count() != 0 {
			t.Fatal("chunked oversize record delivered")
		}
	})
	t.Run("expired verdict at sender", func(t *testing.T) {
		p.a.clk.advance(2 * time.Hour)
		defer p.a.clk.advance(-2 * time.Hour)
		st, out := post(t, p.a, "city-general", "application/fhir+json", body)
		wantRefusal(t, st, out, http.StatusConflict, codeExpired, "expired at")
		nothingSent(t)
	})
	t.Run("expired verdict at receiver", func(t *testing.T) {
		p.b.clk.advance(2 * time.Hour)
		defer p.b.clk.advance(-2 * time.Hour)
		st, out := post(t, p.a, "city-general", "application/fhir+json", body)
		wantRefusal(t, st, out, http.StatusBadGateway, codePeerRefused, "verdict_expired")
		if n := len(p.b.l.Lookup(digest)); n != 0 || p.ep.count() != 0 {
			t.Fatalf("receiver journaled %d entries, delivered %d", n, p.ep.count())
		}
	})
	t.Run("peer unreachable, then retry", func(t *testing.T) {
		p.n.mu.Lock()
		addr := p.n.addrs["city-general"]
		delete(p.n.addrs, "city-general")
		p.n.mu.Unlock()
		p.a.r.client.CloseIdleConnections()
		st, out := post(t, p.a, "city-general", "application/fhir+json", body)
		wantRefusal(t, st, out, http.StatusBadGateway, codeUnreachable, "retry")
		p.n.mu.Lock()
		p.n.addrs["city-general"] = addr
		p.n.mu.Unlock()
		if st, out := post(t, p.a, "city-general", "application/fhir+json", body); st != http.StatusOK {
			t.Fatalf("retry: %d %s", st, out)
		}
		if len(p.a.l.Lookup(digest)) != 1 || len(p.b.l.Lookup(digest)) != 1 || p.ep.count() != 1 {
			t.Fatalf("after retry: %d sent entries, %d received entries, %d deliveries; want 1 each",
				len(p.a.l.Lookup(digest)), len(p.b.l.Lookup(digest)), p.ep.count())
		}
	})
}

// A sender whose entries are signed by a key other than the record key in
// the receiver's verdict for it is refused, and nothing is delivered.
func TestWrongRecordKeyRefused(t *testing.T) {
	p := newRecPair(t)
	other, _, _ := ed25519.GenerateKey(nil)
	p.b.verdicts.set("st-mary", p.f.Pass(t, "st-mary", [32]byte{2}, other, time.Hour))
	body := fhirBundle(randMarker(t))
	st, out := post(t, p.a, "city-general", "application/fhir+json", body)
	wantRefusal(t, st, out, http.StatusBadGateway, codePeerRefused, "bad_signature")
	if n := len(p.b.l.Lookup(sha256.Sum256(body))); n != 0 || p.ep.count() != 0 {
		t.Fatalf("receiver journaled %d entries, delivered %d", n, p.ep.count())
	}
	// The same refusal straight at the peer handler, with a forged entry.
	e := proof.Entry{Kind: proof.KindSent, Digest: sha256.Sum256(body), Sender: "st-mary", Receiver: "city-general",
		ContentType: "application/fhir+json", Log: "st-mary", Time: time.Now().UTC()}
	_, forger, _ := ed25519.GenerateKey(nil)
	e.Signature = ed25519.Sign(forger, e.SignedBytes())
	raw, _ := e.MarshalBinary()
	if _, err := p.b.r.checkInbound(&inbound{raw: raw, body: body}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged entry: %v", err)
	}
	// Nor does a forged entry get a countersignature from the receiver.
	if _, err := p.b.r.recountersign(context.Background(), b64(raw)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("countersign for a forged entry: %v", err)
	}
}

// The receiver's LAN endpoint is down: the sender learns it (502), and a
// retry with the same body succeeds with one sent entry, one delivery and
// one received entry. A resend after success delivers nothing twice.
func TestLANEndpointDownThenRetry(t *testing.T) {
	f := fixture(t)
	n := &recNet{addrs: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	epAddr := ln.Addr().String()
	ln.Close() // down: connection refused
	a := newRecBox(t, n, "st-mary", Delivery{}, nil)
	b := newRecBox(t, n, "city-general", Delivery{HTTPURL: "http://" + epAddr + "/in"}, nil)
	admit(t, f, a, b)
	body := fhirBundle(randMarker(t))
	digest := sha256.Sum256(body)
	st, out := post(t, a, "city-general", "application/fhir+json", body)
	wantRefusal(t, st, out, http.StatusBadGateway, codeDelivery, "retry with the same record")
	if n := len(a.l.Lookup(digest)); n != 1 {
		t.Fatalf("sender journaled %d sent entries, want 1", n)
	}
	if n := len(b.l.Lookup(digest)); n != 0 {
		t.Fatalf("receiver journaled %d entries for an undelivered record", n)
	}
	// The sender's receipt says the peer does not have it.
	rurl := a.lanURL + "/v1/receipts/" + hex.EncodeToString(digest[:])
	if st, got := get(t, rurl); st != http.StatusOK || parseReceipt(t, got).Delivery != receipt.DeliveryNotReceived || parseReceipt(t, got).Countersign != nil {
		t.Fatalf("receipt of an undelivered record: %d %s", st, got)
	}
	// The endpoint comes back on the same address.
	ln, err = net.Listen("tcp", epAddr)
	if err != nil {
		t.Skipf("could not re-listen on %s: %v", epAddr, err)
	}
	ep := &lanEndpoint{}
	srv := &http.Server{Handler: ep}
	go srv.Serve(ln)
	defer srv.Close()
	var first *receipt.Receipt
	for i, ctype := range []string{"application/fhir+json", "application/json"} {
		// The resend even names another content type: the record keeps its first entry.
		st, out = post(t, a, "city-general", ctype, body)
		if st != http.StatusOK {
			t.Fatalf("retry %d: %d %s", i, st, out)
		}
		rc := parseReceipt(t, out)
		if _, err := receipt.VerifyReceipt(context.Background(), rc, a.signer.Public(), b.signer.Public(), proof.VerifyOptions{Record: body}); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = rc
		} else if rc.Ledger.LeafIndex != first.Ledger.LeafIndex || !bytes.Equal(rc.Countersign.ReceivedEntry, first.Countersign.ReceivedEntry) {
			t.Fatalf("resend made a new record: leaf %d vs %d", rc.Ledger.LeafIndex, first.Ledger.LeafIndex)
		}
	}
	if len(a.l.Lookup(digest)) != 1 || len(b.l.Lookup(digest)) != 1 || ep.count() != 1 {
		t.Fatalf("after retries: sender %d entries, receiver %d entries, %d deliveries; want 1, 1, 1",
			len(a.l.Lookup(digest)), len(b.l.Lookup(digest)), ep.count())
	}
	// The sender restarts (a fresh relay on the same ledger: countersignatures
	// were in memory only). Its receipt fetches the countersignature again
	// from the receiver, without a second delivery.
	a.r.Close()
	a2, err := New(a.r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	rc, err := a2.ReceiptFor(context.Background(), digest, "city-general")
	if err != nil {
		t.Fatal(err)
	}
	if rc.Delivery != receipt.DeliveryCountersigned {
		t.Fatalf("after restart: delivery %q (%s)", rc.Delivery, rc.DeliveryError)
	}
	if _, err := receipt.VerifyReceipt(context.Background(), rc, a.signer.Public(), b.signer.Public(), proof.VerifyOptions{Record: body}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !bytes.Equal(rc.Countersign.ReceivedEntry, first.Countersign.ReceivedEntry) || ep.count() != 1 {
		t.Fatalf("after restart: new received entry or %d deliveries", ep.count())
	}
	if sa, sb := a.r.Stats(), b.r.Stats(); sa.Sent != 2 || sa.Refused != 1 || sb.Received != 1 || sb.DeliveryFailed != 1 {
		t.Fatalf("stats: sender %+v receiver %+v", sa, sb)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// mllpEngine is a hospital HL7 engine: it ACKs every message AA, or AE when told to.
type mllpEngine struct {
	mu   sync.Mutex
	got  [][]byte
	code string
}

func (e *mllpEngine) serve(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					msg, err := hl7.ReadFrame(rd, 1<<20)
					if err != nil {
						return
					}
					m, err := hl7.ParseMSH(msg)
					e.mu.Lock()
					e.got = append(e.got, msg)
					code := e.code
					e.mu.Unlock()
					if code == "" {
						code = "AA"
					}
					if err != nil {
						code = "AR"
					}
					hl7.WriteFrame(c, hl7.BuildAck(m, code, "", time.Now()))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func mllpExchange(t *testing.T, c net.Conn, rd *bufio.Reader, raw []byte) *hl7.Ack {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	ack, err := hl7.ReadFrame(rd, 1<<20)
	if err != nil {
		t.Fatalf("reading ACK: %v", err)
	}
	a, err := hl7.ParseAck(ack)
	if err != nil {
		t.Fatalf("ACK %q: %v", ack, err)
	}
	return a
}

func TestHL7OverMLLP(t *testing.T) {
	f := fixture(t)
	n := &recNet{addrs: map[string]string{}}
	eng := &mllpEngine{}
	engAddr := eng.serve(t)
	a := newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) {
		c.MLLPRoutes = map[string]string{"CITYGEN": "city-general"}
	})
	b := newRecBox(t, n, "city-general", Delivery{MLLPAddr: engAddr}, nil)
	admit(t, f, a, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.r.ServeMLLP(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeMLLP: %v", err)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)

	// An ADT^A01 goes through and is ACKed AA with its control ID.
	ack := mllpExchange(t, c, rd, frame(adtA01))
	if ack.Code != "AA" || ack.ControlID != "MSG00001" {
		t.Fatalf("ACK %+v", ack)
	}
	eng.mu.Lock()
	if len(eng.got) != 1 || string(eng.got[0]) != adtA01 {
		t.Fatalf("engine got %q", eng.got)
	}
	eng.mu.Unlock()
	digest := sha256.Sum256([]byte(adtA01))
	rc, err := a.r.ReceiptFor(context.Background(), digest, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receipt.VerifyReceipt(context.Background(), rc, a.signer.Public(), b.signer.Public(), proof.VerifyOptions{Record: []byte(adtA01)}); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	if rc.ContentType != hl7.HL7ContentType {
		t.Fatalf("content type %q", rc.ContentType)
	}

	// On the same connection: a message without an MSH gets AE naming the problem.
	ack = mllpExchange(t, c, rd, frame("PID|1||X\r"))
	if ack.Code != "AE" || !strings.Contains(ack.Text, "MSH") {
		t.Fatalf("no-MSH ACK %+v", ack)
	}
	// An unrouted facility gets AE.
	unrouted := strings.Replace(adtA01, "CITYGEN", "ELSEWHERE", 1)
	ack = mllpExchange(t, c, rd, frame(unrouted))
	if ack.Code != "AE" || ack.ControlID != "MSG00001" || !strings.Contains(ack.Text, "no route") {
		t.Fatalf("unrouted ACK %+v", ack)
	}
	// The engine refuses: the sender's hospital gets AE, not AA.
	eng.mu.Lock()
	eng.code = "AE"
	eng.mu.Unlock()
	other := strings.Replace(adtA01, "MSG00001", "MSG00002", 1)
	ack = mllpExchange(t, c, rd, frame(other))
	if ack.Code != "AE" || ack.ControlID != "MSG00002" || !strings.Contains(ack.Text, "engine_error") {
		t.Fatalf("engine-refused ACK %+v", ack)
	}
	if n := len(b.l.Lookup(sha256.Sum256([]byte(other)))); n != 0 {
		t.Fatalf("receiver journaled a record its engine refused")
	}

	// A malformed frame gets AE and the connection is closed.
	ack = mllpExchange(t, c, rd, []byte("MSH|^~\\&|no start byte\x1c\r"))
	if ack.Code != "AE" || !strings.Contains(ack.Text, "0x0B") {
		t.Fatalf("bad-frame ACK %+v", ack)
	}
	if _, err := hl7.ReadFrame(rd, 1<<20); !errors.Is(err, io.EOF) {
		t.Fatalf("connection not closed after a bad frame: %v", err)
	}
	// An oversize frame likewise.
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	go c2.Write(frame(strings.Repeat("X", 65<<10)))
	rd2 := bufio.NewReader(c2)
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	raw, err := hl7.ReadFrame(rd2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := hl7.ParseAck(raw); err != nil || a.Code != "AE" || !strings.Contains(a.Text, "too large") {
		t.Fatalf("oversize ACK %+v %v", a, err)
	}
}

// A receipt is pending until the sender's ledger anchors its checkpoint on
// chain; GET /v1/receipts/{digest} then returns it anchored, and it verifies
// online against the chain.
func TestReceiptUpgradedWhenAnchored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := fixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	chainDir := t.TempDir()
	placeholder, _, _ := ed25519.GenerateKey(nil)
	chain, err := devchain.Start(ctx, devchain.Config{StateDir: chainDir, Port: port, Passphrase: "pw", Logger: testutil.EnvLogger(), Box: "st-mary", RecordKey: placeholder})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })
	n := &recNet{addrs: map[string]string{}}
	ep := &lanEndpoint{}
	a := newRecBox(t, n, "st-mary", Delivery{}, nil, chain)
	// Bind the gateway to the record key the box just made.
	if _, err := ledger.SetupDev(ctx, chain.Backend(), ledger.DevGateway{Addr: chain.Gateway(), Box: "st-mary", RecordKey: a.signer.Public()}); err != nil {
		t.Fatal(err)
	}
	b := newRecBox(t, n, "city-general", Delivery{HTTPURL: "http://" + serveHTTP(t, ep)}, nil)
	admit(t, f, a, b)

	body := fhirBundle(randMarker(t))
	st, out := post(t, a, "city-general", "application/fhir+json", body)
	if st != http.StatusOK {
		t.Fatalf("POST: %d %s", st, out)
	}
	if rc := parseReceipt(t, out); rc.Status != proof.StatusPending {
		t.Fatalf("fresh receipt is %s, want pending", rc.Status)
	}
	digest := sha256.Sum256(body)
	url := a.lanURL + "/v1/receipts/" + hex.EncodeToString(digest[:])
	var rc *receipt.Receipt
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, out := get(t, url)
		if st != http.StatusOK {
			t.Fatalf("GET: %d %s", st, out)
		}
		if rc = parseReceipt(t, out); rc.Status == proof.StatusAnchored {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receipt still %s: %+v", rc.Status, a.l.Status(ctx))
		}
	}
	res, err := receipt.VerifyReceipt(ctx, rc, a.signer.Public(), b.signer.Public(), proof.VerifyOptions{Record: body,
		Backend: chain.Backend(), ChainID: chain.ChainID(), Contract: chain.Contract(), Gateway: chain.Gateway()})
	if err != nil {
		t.Fatalf("anchored receipt does not verify online: %v", err)
	}
	if !res.Anchored || res.Depth < 1 {
		t.Fatalf("verified %+v", res)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, _ := proof.NewKeySigner(priv)
	l, err := ledger.Open(context.Background(), ledger.Config{Box: "st-mary", StateDir: t.TempDir(), Signer: signer, Logger: testutil.EnvLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	good := Config{Box: "st-mary", Ledger: l, RecordKey: signer, Verdicts: &verdictMap{}, Dial: (&recNet{}).dial}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Box = "" }, "box name is empty"},
		{func(c *Config) { c.Box = "st mary" }, "is not a box name"},
		{func(c *Config) { c.Dial = nil }, "tunnel dialer"},
		{func(c *Config) { c.Deliver = Delivery{HTTPURL: "ftp://x"} }, "http_url"},
		{func(c *Config) { c.Deliver = Delivery{MLLPAddr: "ehr"} }, "mllp_addr"},
		{func(c *Config) { c.Deliver = Delivery{HTTPURL: "http://x", MLLPAddr: "x:1"} }, "both"},
		{func(c *Config) { c.MLLPRoutes = map[string]string{"CITYGEN": "city general"} }, "facility CITYGEN"},
	} {
		c := good
		tc.mod(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want an error mentioning %q", err, tc.want)
		}
	}
	r, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

// One batch from a peer carries a good record, a forged one, one with a
// truncated entry and one over the receiver's max_body: only the good one
// is delivered, journaled and countersigned; the others are refused by
// name, in place.
func TestBatchRecordsStandOnTheirOwn(t *testing.T) {
	p := newRecPair(t)
	mk := func(body []byte, key ed25519.PrivateKey) []byte {
		e := proof.Entry{Kind: proof.KindSent, Digest: sha256.Sum256(body), Sender: "st-mary", Receiver: "city-general",
			ContentType: "application/fhir+json", Log: "st-mary", Time: time.Now().UTC()}
		e.Signature = ed25519.Sign(key, e.SignedBytes())
		raw, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// The good record is a's own journaled entry; the forgery is signed by another key.
	good := fhirBundle(randMarker(t))
	a, err := p.a.l.Append(context.Background(), proof.Entry{Kind: proof.KindSent, Digest: sha256.Sum256(good),
		Sender: "st-mary", Receiver: "city-general", ContentType: "application/fhir+json"})
	if err != nil {
		t.Fatal(err)
	}
	goodRaw, _ := a.Entry.MarshalBinary()
	_, forger, _ := ed25519.GenerateKey(nil)
	forged := fhirBundle(randMarker(t))
	other := fhirBundle(randMarker(t))
	big := make([]byte, 70<<10) // over b's max_body (64 KiB), within a's
	batch := encodeBatch([][]byte{mk(forged, forger), goodRaw, goodRaw[:len(goodRaw)-1], mk(big, forger)},
		[][]byte{forged, good, other, big})
	// A truncated entry spoils only its own record too.
	resp, err := http.Post("http://"+p.n.addrs["city-general"]+batchPath, batchType, bytes.NewReader(batch))
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("batch: %s: %s", resp.Status, reply)
	}
	res, err := parseResults(reply, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[3].err, ErrTooLarge) || !strings.Contains(res[3].err.Error(), "max_body") {
		t.Fatalf("record over the receiver's max_body: %v", res[3].err)
	}
	if !errors.Is(res[0].err, ErrPeerRefused) || !strings.Contains(res[0].err.Error(), codeBadSignature) {
		t.Fatalf("forged record: %v", res[0].err)
	}
	if !errors.Is(res[2].err, ErrPeerRefused) || !strings.Contains(res[2].err.Error(), codeBadRequest) {
		t.Fatalf("truncated entry: %v", res[2].err)
	}
	if res[1].err != nil {
		t.Fatalf("good record: %v", res[1].err)
	}
	if err := res[1].cs.Verify(p.b.signer.Public(), goodRaw); err != nil {
		t.Fatalf("countersignature: %v", err)
	}
	if p.ep.count() != 1 || len(p.b.l.Lookup(sha256.Sum256(forged))) != 0 || len(p.b.l.Lookup(sha256.Sum256(good))) != 1 {
		t.Fatalf("delivered %d, journaled forged %d good %d", p.ep.count(), len(p.b.l.Lookup(sha256.Sum256(forged))), len(p.b.l.Lookup(sha256.Sum256(good))))
	}
	// A request that is not a batch at all is refused whole.
	resp, err = http.Post("http://"+p.n.addrs["city-general"]+batchPath, batchType, strings.NewReader("WGB1junk"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("junk batch: %s", resp.Status)
	}
}

// Many records at once travel in shared batches (one signature per signing
// batch, cached verification), yet each comes back with its own receipt
// that verifies alone, and each reaches the EHR exactly once, even when the
// same record is sent twice at the same moment.
func TestConcurrentRecordsShareBatches(t *testing.T) {
	p := newRecPair(t)
	const n = 300
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = fhirBundle(fmt.Sprintf("%s-%d", randMarker(t), i))
	}
	type res struct {
		st  int
		out []byte
	}
	got := make([]res, 2*n)
	var wg sync.WaitGroup
	for i := 0; i < 2*n; i++ { // every record twice, concurrently
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, out := post(t, p.a, "city-general", "application/fhir+json", bodies[i%n])
			got[i] = res{st, out}
		}()
	}
	wg.Wait()
	shared := map[string]int{}
	for i, g := range got {
		if g.st != http.StatusOK {
			t.Fatalf("record %d: %d %s", i, g.st, g.out)
		}
		rc := parseReceipt(t, g.out)
		if _, err := receipt.VerifyReceipt(context.Background(), rc, p.a.signer.Public(), p.b.signer.Public(),
			proof.VerifyOptions{Record: bodies[i%n]}); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		shared[string(rc.Countersign.Signature)]++
	}
	if len(shared) >= n {
		t.Fatalf("%d countersignature batches for %d records: nothing was batched", len(shared), n)
	}
	if c := p.ep.count(); c != n {
		t.Fatalf("EHR received %d deliveries for %d records", c, n)
	}
	for _, b := range bodies {
		if k := len(p.b.l.Lookup(sha256.Sum256(b))); k != 1 {
			t.Fatalf("receiver journaled a record %d times", k)
		}
	}
	t.Logf("%d records in %d countersignature batches", n, len(shared))
}
