package peerproto

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/internal/netlimit"
)

// Box is what the attester side asks of the box it serves. The methods
// that reach the TPM must serialise their own TPM command sequences: the
// handler calls them concurrently.
type Box interface {
	// CheckPeer says whether a request naming itself name, from source
	// address remote, comes from one of the box's configured peers: nil,
	// or an error wrapping ErrUnknownPeer (no such peer) or ErrWrongSource
	// (not one of that peer's configured underlay addresses). Only requests
	// that pass are answered, and only after it is any budget spent or TPM
	// work done.
	CheckPeer(name string, remote netip.Addr) error
	// Identity is the box's EK certificate and AK.
	Identity(ctx context.Context) (*attest.Identity, error)
	// ActivateCredential answers a verifier's challenge with the TPM.
	ActivateCredential(ctx context.Context, ch *attest.Challenge) (*attest.ChallengeResponse, error)
	// Evidence quotes the PCRs over nonce, binding the box's WireGuard and
	// record keys.
	Evidence(ctx context.Context, nonce []byte) (*attest.Evidence, error)
	// Hello tells the box that peer (re)started and should be appraised
	// afresh. It must not block.
	Hello(peer string)
}

// Refusals of CheckPeer.
var (
	ErrUnknownPeer = errors.New("unknown box; it is not in this box's peers")
	ErrWrongSource = errors.New("request does not come from the peer's configured underlay address")
)

// Budget is what one peer may ask of this box. Each peer has its own, so
// that no caller can spend another peer's: a flood in one peer's name
// (all an attacker on that peer's address can do) leaves every other
// peer's renewals alone.
type Budget struct {
	// TPM bounds activations and quotes. A real peer needs one activation
	// per first contact and one quote per interval, with retries.
	TPM      rate.Limit
	TPMBurst int
	// Hello bounds hellos, each of which makes this box appraise the peer
	// at once (a round of its own TPM work on the peer's side).
	Hello      rate.Limit
	HelloBurst int
}

// DefaultBudget is far above a real peer's need (about one quote per
// interval) and bounds what one peer's name can make the TPM do.
var DefaultBudget = Budget{TPM: 2, TPMBurst: 10, Hello: rate.Every(5 * time.Second), HelloBurst: 3}

// budgets holds one peer's limiters per name. Names reach it only after
// CheckPeer passed, so it holds at most one entry per configured peer.
type budgets struct {
	cfg   Budget
	mu    sync.Mutex
	peers map[string]*peerBudget
}

type peerBudget struct{ tpm, hello *rate.Limiter }

func (b *budgets) of(peer string) *peerBudget {
	b.mu.Lock()
	defer b.mu.Unlock()
	pb := b.peers[peer]
	if pb == nil {
		pb = &peerBudget{tpm: rate.NewLimiter(b.cfg.TPM, b.cfg.TPMBurst), hello: rate.NewLimiter(b.cfg.Hello, b.cfg.HelloBurst)}
		b.peers[peer] = pb
	}
	return pb
}

type handler struct {
	box     Box
	budgets *budgets
	log     *slog.Logger
	batch   *batcher // nil: every challenge gets its own quote
}

// NewHandler serves the attester side of the protocol for box. Every
// request must pass box.CheckPeer; budget then bounds, per peer, the TPM
// work (activations and quotes) and the hellos it can cause: a request
// over it is answered 429 with Retry-After.
func NewHandler(box Box, budget Budget, log *slog.Logger) http.Handler {
	return NewHandlerConfig(box, HandlerConfig{Budget: budget}, log)
}

// NewHandlerConfig is NewHandler with batched quotes (v2) when cfg asks
// for them and box is a ScaleBox.
func NewHandlerConfig(box Box, cfg HandlerConfig, log *slog.Logger) http.Handler {
	h := &handler{box: box, budgets: &budgets{cfg: cfg.Budget, peers: map[string]*peerBudget{}}, log: log}
	if sb, ok := box.(ScaleBox); ok && cfg.BatchWindow > 0 {
		h.batch = &batcher{box: sb, window: cfg.BatchWindow}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathIdentity, h.identity)
	mux.HandleFunc("POST "+pathActivate, h.activate)
	mux.HandleFunc("POST "+pathEvidence, h.evidence)
	mux.HandleFunc("POST "+pathHello, h.hello)
	return mux
}

func (h *handler) identity(w http.ResponseWriter, r *http.Request) {
	var m fromMsg
	if !h.readPeerJSON(w, r, &m, &m.From) {
		return
	}
	id, err := h.box.Identity(r.Context())
	h.reply(w, id, err)
}

func (h *handler) activate(w http.ResponseWriter, r *http.Request) {
	from := r.Header.Get(headerFrom)
	if !h.checkPeer(w, r, from) || !h.spend(w, h.budgets.of(from).tpm) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		http.Error(w, "challenge too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	ch, err := attest.ParseChallenge(body)
	if err != nil {
		http.Error(w, "bad challenge: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := h.box.ActivateCredential(r.Context(), ch)
	h.reply(w, resp, err)
}

func (h *handler) evidence(w http.ResponseWriter, r *http.Request) {
	var m evidenceReq
	if !h.readPeerJSON(w, r, &m, &m.From) || !h.spend(w, h.budgets.of(m.From).tpm) {
		return
	}
	from, err := runtimeFrom(r.Header.Get(headerRuntimeFrom))
	if err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	nonce, err := boundNonce(r, m.Nonce)
	if err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ev, err := h.answer(r, nonce, from)
	h.reply(w, ev, err)
}

// answer quotes the nonce: in the window's batch if the verifier speaks
// v2 and this box batches, else on its own.
func (h *handler) answer(r *http.Request, nonce []byte, from uint64) (*attest.Evidence, error) {
	if h.batch != nil && r.Header.Get(headerAccept) == attest.BatchProtocolVersion {
		return h.batch.evidence(r.Context(), attest.BatchRequest{Nonce: nonce, RuntimeFrom: from})
	}
	if sb, ok := h.box.(ScaleBox); ok {
		return sb.EvidenceSince(r.Context(), nonce, from)
	}
	return h.box.Evidence(r.Context(), nonce)
}

func (h *handler) hello(w http.ResponseWriter, r *http.Request) {
	var m fromMsg
	if !h.readPeerJSON(w, r, &m, &m.From) || !h.spend(w, h.budgets.of(m.From).hello) {
		return
	}
	h.log.Info("peer says hello; appraising it afresh", "peer", m.From)
	h.box.Hello(m.From)
	w.WriteHeader(http.StatusAccepted)
}

// spend takes one request from a peer's budget, or answers 429.
func (h *handler) spend(w http.ResponseWriter, l *rate.Limiter) bool {
	if !l.Allow() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many attestation requests; retry shortly", http.StatusTooManyRequests)
		return false
	}
	return true
}

// checkPeer refuses, 403, a request that does not come from the
// configured peer it names.
func (h *handler) checkPeer(w http.ResponseWriter, r *http.Request, name string) bool {
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		err = h.box.CheckPeer(name, remote.Addr().Unmap())
	}
	if err != nil {
		h.log.Debug("attestation request refused", "from", name, "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return false
	}
	return true
}

// readPeerJSON decodes the request into v and checks that *from, which
// points into v, names a known peer.
func (h *handler) readPeerJSON(w http.ResponseWriter, r *http.Request, v any, from *string) bool {
	if err := decodeRequest(http.MaxBytesReader(w, r.Body, MaxRequestBody), v); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return h.checkPeer(w, r, *from)
}

func (h *handler) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		h.log.Warn("attestation request failed", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// The caller went away; its verifier will retry.
		h.log.Debug("attestation answer not delivered", "err", err)
	}
}

// NewServer wraps h in an HTTPS server bounded in time and header size, for
// use with ServeTLS(ln, "", "").
func NewServer(h http.Handler, tc *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           http.TimeoutHandler(h, Timeout, "timeout"),
		TLSConfig:         tc,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       Timeout,
		WriteTimeout:      Timeout + 2*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// ListenLimits bound the attestation listener. Only configured peers have
// business here, each with a handful of connections (one per round in
// flight), so the per-source cap is small: a flood from one host cannot
// hold the listener, and other peers' renewals still get in. The server's
// own timeouts (NewServer) bound slow clients.
var ListenLimits = netlimit.Limits{MaxConns: 1024, MaxConnsPerSource: 32}

// Listen wraps the attestation listener in ListenLimits.
func Listen(ln net.Listener) *netlimit.Listener { return ListenShared(ln, 1) }

// ListenShared is Listen for a box whose peers share underlay addresses:
// up to sharing configured peers behind one address (a NAT, a relay, or
// every box of a test consortium on loopback), each of which keeps its own
// few connections. The per-source cap grows with them, or peers behind a
// shared address would lock each other out.
func ListenShared(ln net.Listener, sharing int) *netlimit.Listener {
	l := ListenLimits
	l.MaxConnsPerSource *= max(1, sharing)
	l.MaxConns = max(l.MaxConns, l.MaxConnsPerSource)
	return netlimit.Listen(ln, l)
}

// SelfSignedTLS makes a fresh TLS certificate for box's attestation
// listener. Nobody checks it (see the package comment).
func SelfSignedTLS(box string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("peerproto: TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("peerproto: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "wardgate attestation " + box},
		DNSNames:     []string{box},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("peerproto: certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}, nil
}
