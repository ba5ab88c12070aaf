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
	"strconv"
	"sync/atomic"
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

	batch     bool        // ask for v2 (batched) evidence
	peerV2    atomic.Bool // the peer has answered in v2 since the last Reset
	peerBound atomic.Bool // the peer has bound its answer to TLS since the last Reset
	// mustBind: every answer must be bound, from first contact on (a peer
	// reached through the NAT relay: see WithRequiredBinding).
	mustBind bool
}

// WithBatching makes the client ask for batched (v2) evidence; c is
// returned for chaining.
func (c *Client) WithBatching(on bool) *Client {
	c.batch = on
	return c
}

// Reset forgets what the peer spoke: called at first contact, since a
// restarted peer may have been reconfigured.
func (c *Client) Reset() {
	c.peerV2.Store(false)
	c.peerBound.Store(false)
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
	return c.EvidenceSince(ctx, nonce, 0)
}

// EvidenceSince is Evidence with the peer's runtime list from entry
// runtimeFrom (the verifier's verified position).
func (c *Client) EvidenceSince(ctx context.Context, nonce []byte, runtimeFrom uint64) (*attest.Evidence, [32]byte, ed25519.PublicKey, error) {
	var wg [32]byte
	hdr := map[string]string{headerRuntimeFrom: strconv.FormatUint(runtimeFrom, 10), HeaderChannel: channelTLSExporter}
	if c.batch {
		hdr[headerAccept] = attest.BatchProtocolVersion
	}
	ctx, channel := traceConn(ctx)
	b, err := c.postHeaders(ctx, pathEvidence, evidenceReq{From: c.self, Nonce: nonce}, hdr)
	if err != nil {
		return nil, wg, nil, err
	}
	ev, err := attest.ParseEvidence(b)
	if err != nil {
		return nil, wg, nil, err
	}
	if err := c.checkVersion(ev); err != nil {
		return nil, wg, nil, err
	}
	if err := c.checkBound(ev, nonce); err != nil {
		return nil, wg, nil, err
	}
	if ev.Channel, err = channel(); err != nil {
		return nil, wg, nil, fmt.Errorf("evidence: %w", err)
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

// checkVersion remembers a v2 answer and refuses v1 after one.
func (c *Client) checkVersion(ev *attest.Evidence) error {
	if !c.batch {
		return nil
	}
	if ev.Version == attest.BatchProtocolVersion {
		c.peerV2.Store(true)
		return nil
	}
	if c.peerV2.Load() {
		return ErrDowngrade
	}
	return nil
}

func (c *Client) post(ctx context.Context, path string, msg any) ([]byte, error) {
	return c.postHeaders(ctx, path, msg, nil)
}

func (c *Client) postHeaders(ctx context.Context, path string, msg any, hdr map[string]string) ([]byte, error) {
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
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
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
