package witness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client asks peers' witnesses to cosign this box's checkpoints.
type Client struct {
	HTTP *http.Client
	// URL is the base URL of peer's records server (through the tunnel).
	URL func(peer string) string
}

// AddCheckpoint sends r to peer's witness and returns its cosignature
// lines, or the witness's refusal as ErrInconsistent, ErrBadSignature,
// ErrUnknownLog, ErrMalformed or *ConflictError.
func (c *Client) AddCheckpoint(ctx context.Context, peer string, r *Request) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(peer)+Path, bytes.NewReader(r.Marshal()))
	if err != nil {
		return nil, fmt.Errorf("witness: %q: %w", peer, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness: %q unreachable: %w", peer, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("witness: %q: reading reply: %w", peer, err)
	}
	if len(b) > maxReply {
		return nil, fmt.Errorf("%w: reply of %q over %d bytes", ErrMalformed, peer, maxReply)
	}
	return replyResult(peer, resp.StatusCode, b)
}

// replyResult turns a witness's status and body into lines or an error.
func replyResult(peer string, status int, b []byte) ([]byte, error) {
	msg := strings.TrimSpace(string(b[:min(len(b), 512)]))
	switch status {
	case http.StatusOK:
		return b, nil
	case http.StatusConflict:
		n, err := parseSizeReply(b)
		if err != nil {
			return nil, err
		}
		return nil, &ConflictError{Size: n}
	case http.StatusUnprocessableEntity:
		return nil, fmt.Errorf("%w: refused by %q: %s", ErrInconsistent, peer, msg)
	case http.StatusForbidden:
		return nil, fmt.Errorf("%w: refused by %q: %s", ErrBadSignature, peer, msg)
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w: refused by %q: %s", ErrUnknownLog, peer, msg)
	case http.StatusBadRequest:
		return nil, fmt.Errorf("%w: refused by %q: %s", ErrMalformed, peer, msg)
	}
	return nil, fmt.Errorf("witness: %q answered HTTP %d: %s", peer, status, msg)
}
