package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"time"
)

// ErrUnreachable: the CLI could not connect to the daemon's socket.
var ErrUnreachable = errors.New("cannot reach wardgated")

// maxResponse bounds a reply the client will read.
const maxResponse = 32 << 20

// Client talks to wardgated over its control socket. It implements Backend,
// so anything that consumes a Backend can run against a remote daemon.
type Client struct {
	path string
	hc   *http.Client
}

// NewClient returns a client for the socket at path (DefaultSocket if empty).
func NewClient(path string) *Client {
	if path == "" {
		path = DefaultSocket
	}
	d := &net.Dialer{Timeout: 3 * time.Second}
	return &Client{path: path, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 2,
	}}}
}

// Path is the socket path.
func (c *Client) Path() string { return c.path }

// APIError is a refusal from the daemon.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Is maps the daemon's codes back to this package's errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrNotReady:
		return e.Code == "not_ready"
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	}
	return false
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values) ([]byte, error) {
	u := "http://wardgated" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	return c.send(req, method, path)
}

// doBody sends a JSON body.
func (c *Client) doBody(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://wardgated"+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.send(req, method, path)
}

// send does req and reads its reply, bounded.
func (c *Client) send(req *http.Request, method, path string) ([]byte, error) {
	ctx := req.Context()
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wardgated at %s did not answer %s %s: %w", c.path, method, path, ctx.Err())
		}
		hint := "is the daemon running? (systemctl status wardgated)"
		if errors.Is(err, fs.ErrPermission) {
			hint = "only root and members of group wardgate may use the control socket"
		}
		return nil, fmt.Errorf("%w at %s: %w: %s", ErrUnreachable, c.path, unwrapDial(err), hint)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading reply from wardgated: %w", err)
	}
	if len(body) > maxResponse {
		return nil, fmt.Errorf("reply from wardgated to %s is over %d bytes", path, maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("wardgated answered %s to %s %s", resp.Status, method, path)
		}
		return nil, &APIError{Status: resp.StatusCode, Code: eb.Code, Message: eb.Error}
	}
	return body, nil
}

// unwrapDial strips net/http's "Get \"http://...\":" prefix, which names a
// URL the user never typed.
func unwrapDial(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func get[T any](ctx context.Context, c *Client, method, path string, q url.Values) (T, error) {
	var v T
	body, err := c.do(ctx, method, path, q)
	if err != nil {
		return v, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("decoding wardgated reply to %s: %w", path, err)
	}
	return v, nil
}

func (c *Client) Status(ctx context.Context) (StatusInfo, error) {
	return get[StatusInfo](ctx, c, http.MethodGet, "/v1/status", nil)
}

func (c *Client) Peers(ctx context.Context) ([]PeerInfo, error) {
	return get[[]PeerInfo](ctx, c, http.MethodGet, "/v1/peers", nil)
}

func (c *Client) Attest(ctx context.Context, peer string) (AttestResult, error) {
	if err := ValidPeer(peer); err != nil {
		return AttestResult{}, err
	}
	return get[AttestResult](ctx, c, http.MethodPost, "/v1/peers/"+peer+"/attest", nil)
}

func (c *Client) Reports(ctx context.Context, f ReportFilter) ([]ReportSummary, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return get[[]ReportSummary](ctx, c, http.MethodGet, "/v1/reports", f.Query())
}

func (c *Client) Report(ctx context.Context, id string) ([]byte, error) {
	if err := ValidName(id); err != nil {
		return nil, fmt.Errorf("report id: %w", err)
	}
	return c.do(ctx, http.MethodGet, "/v1/reports/"+id, nil)
}

func (c *Client) LedgerStatus(ctx context.Context) (LedgerInfo, error) {
	return get[LedgerInfo](ctx, c, http.MethodGet, "/v1/ledger", nil)
}

func (c *Client) Firmware(ctx context.Context) (FirmwareInfo, error) {
	return get[FirmwareInfo](ctx, c, http.MethodGet, "/v1/firmware", nil)
}

func (c *Client) Checkpoints(ctx context.Context) ([]CheckpointInfo, error) {
	return get[[]CheckpointInfo](ctx, c, http.MethodGet, "/v1/checkpoints", nil)
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

var _ Backend = (*Client)(nil)
