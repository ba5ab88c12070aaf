package gateway

// The mutual attestation protocol between boxes, over HTTPS on
// attestation.listen. Each box serves its attester side and drives its
// verifier side against every peer:
//
//	POST /v1/attest/identity  {from}                 -> attest.Identity
//	POST /v1/attest/activate  attest.Challenge       -> attest.ChallengeResponse
//	POST /v1/attest/evidence  {from, nonce}          -> attest.Evidence (binds nonce, WireGuard and record keys)
//	POST /v1/attest/hello     {from}                 -> 202; "I (re)started: appraise me now"
//
// TLS here only hides the exchange from passive observers: the server
// certificate is self-signed per start and not checked, because
// authenticity comes from the TPM evidence (EK certificate chain,
// credential activation, and a quote over the verifier's nonce that binds
// the WireGuard and record keys). A man in the middle can relay messages but
// cannot change the keys a passing verdict admits.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
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
	"time"

	"github.com/wardgate/wardgate/attest"
)

const (
	maxRequestBody  = 64 << 10 // hello, identity and evidence requests; a challenge is a few KiB
	maxResponseBody = 8 << 20  // evidence carries the event log (firmware.MaxEventLogSize is 4 MiB)
	protoTimeout    = 10 * time.Second
	headerFrom      = "Wardgate-From"
)

type fromMsg struct {
	From string `json:"from"`
}

type evidenceReq struct {
	From  string `json:"from"`
	Nonce []byte `json:"nonce"`
}

// attestHandler serves the attester side of the protocol.
func (d *Gateway) attestHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/attest/identity", func(w http.ResponseWriter, r *http.Request) {
		var m fromMsg
		if !d.readPeerJSON(w, r, &m, &m.From) {
			return
		}
		id, err := d.identity(r.Context())
		d.replyJSON(w, id, err)
	})
	mux.HandleFunc("POST /v1/attest/activate", func(w http.ResponseWriter, r *http.Request) {
		from := r.Header.Get(headerFrom)
		if !d.knownPeer(w, from) || !d.tpmBudget(w) {
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			http.Error(w, "challenge too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		ch, err := attest.ParseChallenge(body)
		if err != nil {
			http.Error(w, "bad challenge: "+err.Error(), http.StatusBadRequest)
			return
		}
		d.attMu.Lock()
		resp, err := d.attester.ActivateCredential(r.Context(), ch)
		d.attMu.Unlock()
		d.replyJSON(w, resp, err)
	})
	mux.HandleFunc("POST /v1/attest/evidence", func(w http.ResponseWriter, r *http.Request) {
		var m evidenceReq
		if !d.readPeerJSON(w, r, &m, &m.From) || !d.tpmBudget(w) {
			return
		}
		d.attMu.Lock()
		ev, err := d.attester.Evidence(r.Context(), m.Nonce, d.wgKey, d.recordKey.Public().(ed25519.PublicKey))
		d.attMu.Unlock()
		d.replyJSON(w, ev, err)
	})
	mux.HandleFunc("POST /v1/attest/hello", func(w http.ResponseWriter, r *http.Request) {
		var m fromMsg
		if !d.readPeerJSON(w, r, &m, &m.From) {
			return
		}
		d.log.Info("peer says hello; appraising it afresh", "peer", m.From)
		d.peers[m.From].poke()
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

// tpmBudget bounds the TPM work unauthenticated callers can cause
// (activations and quotes); real peers need a few per interval.
func (d *Gateway) tpmBudget(w http.ResponseWriter) bool {
	if !d.tpmLimit.Allow() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many attestation requests; retry shortly", http.StatusTooManyRequests)
		return false
	}
	return true
}

func (d *Gateway) knownPeer(w http.ResponseWriter, name string) bool {
	if _, ok := d.peers[name]; !ok {
		http.Error(w, "unknown box; it is not in this box's peers", http.StatusForbidden)
		return false
	}
	return true
}

func (d *Gateway) readPeerJSON(w http.ResponseWriter, r *http.Request, v any, from *string) bool {
	if err := decodeRequest(http.MaxBytesReader(w, r.Body, maxRequestBody), v); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return d.knownPeer(w, *from)
}

// decodeRequest parses one protocol request body strictly: one JSON
// object, no unknown fields, nothing after it, and sane field sizes.
func decodeRequest(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	var from string
	switch m := v.(type) {
	case *fromMsg:
		from = m.From
	case *evidenceReq:
		from = m.From
		if len(m.Nonce) < 16 || len(m.Nonce) > 64 {
			return fmt.Errorf("nonce is %d bytes; it must be 16..64", len(m.Nonce))
		}
	}
	if from == "" || len(from) > 63 {
		return errors.New(`"from" must name the calling box (1..63 bytes)`)
	}
	return nil
}

func (d *Gateway) replyJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		d.log.Warn("attestation request failed", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// identity returns this box's attestation identity, cached (it does not
// change while the daemon runs).
func (d *Gateway) identity(ctx context.Context) (*attest.Identity, error) {
	d.attMu.Lock()
	defer d.attMu.Unlock()
	if d.ident == nil {
		id, err := d.attester.Identity(ctx)
		if err != nil {
			return nil, err
		}
		d.ident = id
	}
	return d.ident, nil
}

// peerClient is the verifier side's HTTPS client to one peer.
type peerClient struct {
	self string
	base string
	hc   *http.Client
}

func newPeerClient(self, endpoint string) *peerClient {
	return &peerClient{self: self, base: "https://" + endpoint, hc: &http.Client{
		Timeout: protoTimeout,
		Transport: &http.Transport{
			// See the package comment: trust comes from the evidence, not TLS.
			TLSClientConfig:       &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13},
			DialContext:           (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
			TLSHandshakeTimeout:   3 * time.Second,
			ResponseHeaderTimeout: protoTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
	}}
}

// errUnreachable marks transport failures (as opposed to refusals).
var errUnreachable = errors.New("peer unreachable")

func (c *peerClient) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerFrom, c.self)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", errUnreachable, path, err)
	}
	if len(b) > maxResponseBody {
		return nil, fmt.Errorf("%s: response larger than %d bytes", path, maxResponseBody)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: peer answered %s: %s", path, resp.Status, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	return b, nil
}

func (c *peerClient) identity(ctx context.Context) (*attest.Identity, error) {
	b, err := c.post(ctx, "/v1/attest/identity", mustJSON(fromMsg{From: c.self}))
	if err != nil {
		return nil, err
	}
	return attest.ParseIdentity(b)
}

func (c *peerClient) activate(ctx context.Context, ch *attest.Challenge) (*attest.ChallengeResponse, error) {
	body, err := json.Marshal(ch)
	if err != nil {
		return nil, err
	}
	b, err := c.post(ctx, "/v1/attest/activate", body)
	if err != nil {
		return nil, err
	}
	return attest.ParseChallengeResponse(b)
}

func (c *peerClient) evidence(ctx context.Context, nonce []byte) (*attest.Evidence, [32]byte, ed25519.PublicKey, error) {
	var wg [32]byte
	b, err := c.post(ctx, "/v1/attest/evidence", mustJSON(evidenceReq{From: c.self, Nonce: nonce}))
	if err != nil {
		return nil, wg, nil, err
	}
	ev, err := attest.ParseEvidence(b)
	if err != nil {
		return nil, wg, nil, err
	}
	if len(ev.WireGuardKey) != 32 || len(ev.RecordKey) != ed25519.PublicKeySize {
		return nil, wg, nil, errors.New("evidence: bound keys must be 32 bytes each")
	}
	copy(wg[:], ev.WireGuardKey)
	return ev, wg, ed25519.PublicKey(ev.RecordKey), nil
}

func (c *peerClient) hello(ctx context.Context) error {
	_, err := c.post(ctx, "/v1/attest/hello", mustJSON(fromMsg{From: c.self}))
	return err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on plain structs
	}
	return b
}

// selfSignedTLS makes a fresh TLS certificate for the attestation listener.
func selfSignedTLS(box string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
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
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}, nil
}

func newAttestServer(h http.Handler, tc *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           http.TimeoutHandler(h, protoTimeout, "timeout"),
		TLSConfig:         tc,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       protoTimeout,
		WriteTimeout:      protoTimeout + 2*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}
