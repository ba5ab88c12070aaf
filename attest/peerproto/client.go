package peerproto

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wardgate/wardgate/attest"
)

// ErrUnreachable marks transport failures, as opposed to refusals: the
// caller retries those sooner.
var ErrUnreachable = errors.New("peer unreachable")

// Client is the verifier side's HTTPS client to one peer. It returns what
// the peer sent, parsed and bounded; appraising it is the caller's job.
type Client struct {
	self string
	base string
	hc   *http.Client
}

// NewClient is box self's client to the peer at endpoint (host:port).
func NewClient(self, endpoint string) *Client {
	return &Client{self: self, base: "https://" + endpoint, hc: &http.Client{
		Timeout: Timeout,
		Transport: &http.Transport{
			// See the package comment: trust comes from the evidence, not TLS.
			TLSClientConfig:       &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13},
			DialContext:           (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
			TLSHandshakeTimeout:   3 * time.Second,
			ResponseHeaderTimeout: Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
	}}
}

// Identity asks the peer for its EK certificate and AK.
func (c *Client) Identity(ctx context.Context) (*attest.Identity, error) {
	b, err := c.post(ctx, pathIdentity, fromMsg{From: c.self})
	if err != nil {
		return nil, err
	}
	return attest.ParseIdentity(b)
}

// Activate sends the verifier's challenge for the peer's TPM to answer.
func (c *Client) Activate(ctx context.Context, ch *attest.Challenge) (*attest.ChallengeResponse, error) {
	b, err := c.post(ctx, pathActivate, ch)
	if err != nil {
		return nil, err
	}
	return attest.ParseChallengeResponse(b)
}

// Evidence asks for a quote over nonce, and returns it with the WireGuard
// and record keys it claims to bind (the verifier checks that it does).
func (c *Client) Evidence(ctx context.Context, nonce []byte) (*attest.Evidence, [32]byte, ed25519.PublicKey, error) {
	var wg [32]byte
	b, err := c.post(ctx, pathEvidence, evidenceReq{From: c.self, Nonce: nonce})
	if err != nil {
		return nil, wg, nil, err
	}
	ev, err := attest.ParseEvidence(b)
	if err != nil {
		return nil, wg, nil, err
	}
	if len(ev.WireGuardKey) != len(wg) || len(ev.RecordKey) != ed25519.PublicKeySize {
		return nil, wg, nil, fmt.Errorf("%w: evidence: bound keys must be 32 bytes each", attest.ErrMalformed)
	}
	copy(wg[:], ev.WireGuardKey)
	return ev, wg, ed25519.PublicKey(ev.RecordKey), nil
}

// Hello tells the peer that this box (re)started, so that it appraises
// this box now rather than at its next interval.
func (c *Client) Hello(ctx context.Context) error {
	_, err := c.post(ctx, pathHello, fromMsg{From: c.self})
	return err
}

func (c *Client) post(ctx context.Context, path string, msg any) ([]byte, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding the request: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerFrom, c.self)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrUnreachable, path, err)
	}
	if len(b) > MaxResponseBody {
		return nil, fmt.Errorf("%w: %s: response larger than %d bytes", attest.ErrMalformed, path, MaxResponseBody)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: peer answered %s: %s", path, resp.Status, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	return b, nil
}
