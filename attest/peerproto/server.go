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
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/wardgate/wardgate/attest"
)

// Box is what the attester side asks of the box it serves. The methods
// that reach the TPM must serialise their own TPM command sequences: the
// handler calls them concurrently.
type Box interface {
	// KnownPeer reports whether name is one of the box's configured peers.
	// Only they are answered, and only after this check is any TPM work
	// done.
	KnownPeer(name string) bool
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

// NewBudget is the TPM budget for a box with peers peers: real peers need
// a few activations and quotes per interval, so this is far above their
// need and still bounds what an unauthenticated caller can make the TPM
// do.
func NewBudget(peers int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(50+10*peers), 100)
}

type handler struct {
	box    Box
	budget *rate.Limiter
	log    *slog.Logger
}

// NewHandler serves the attester side of the protocol for box. budget
// bounds the TPM work (activations and quotes) callers can cause; a
// request over it is answered 429 with Retry-After.
func NewHandler(box Box, budget *rate.Limiter, log *slog.Logger) http.Handler {
	h := &handler{box: box, budget: budget, log: log}
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
	if !h.knownPeer(w, r.Header.Get(headerFrom)) || !h.tpmBudget(w) {
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
	if !h.readPeerJSON(w, r, &m, &m.From) || !h.tpmBudget(w) {
		return
	}
	ev, err := h.box.Evidence(r.Context(), m.Nonce)
	h.reply(w, ev, err)
}

func (h *handler) hello(w http.ResponseWriter, r *http.Request) {
	var m fromMsg
	if !h.readPeerJSON(w, r, &m, &m.From) {
		return
	}
	h.log.Info("peer says hello; appraising it afresh", "peer", m.From)
	h.box.Hello(m.From)
	w.WriteHeader(http.StatusAccepted)
}

func (h *handler) tpmBudget(w http.ResponseWriter) bool {
	if !h.budget.Allow() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many attestation requests; retry shortly", http.StatusTooManyRequests)
		return false
	}
	return true
}

func (h *handler) knownPeer(w http.ResponseWriter, name string) bool {
	if !h.box.KnownPeer(name) {
		http.Error(w, "unknown box; it is not in this box's peers", http.StatusForbidden)
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
	return h.knownPeer(w, *from)
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
