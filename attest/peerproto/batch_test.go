package peerproto

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
)

// scaleBox is box with batching: it counts the quotes it makes.
type scaleBox struct {
	*box
	quotes int
}

func (b *scaleBox) EvidenceSince(ctx context.Context, nonce []byte, _ uint64) (*attest.Evidence, error) {
	return b.Evidence(ctx, nonce)
}

func (b *scaleBox) BatchEvidence(ctx context.Context, reqs []attest.BatchRequest) ([]*attest.Evidence, error) {
	a, done, err := b.tpm()
	if err != nil {
		return nil, err
	}
	defer done()
	b.quotes++
	return a.BatchEvidence(ctx, reqs, b.wg, b.rk)
}

func serveConfig(t *testing.T, b Box, cfg HandlerConfig) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(NewHandlerConfig(b, cfg, testutil.Logger(t)))
	tc, err := SelfSignedTLS("hospital-a")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = tc
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestBatchedPeersOneQuote: n verifiers that challenge a box at the same
// moment over the protocol all pass, and the box quoted once.
func TestBatchedPeersOneQuote(t *testing.T) {
	const n = 8
	fx := attesttest.New(t)
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("hospital-%c", 'b'+i))
	}
	b := &scaleBox{box: newBox(fx.Attester(), names...)}
	srv := serveConfig(t, b, HandlerConfig{Budget: DefaultBudget, BatchWindow: 200 * time.Millisecond})
	ctx := ctxT(t)
	type verifier struct {
		c *Client
		v *attest.Verifier
	}
	var vs []verifier
	for _, name := range names {
		c := NewClient(name, endpoint(srv)).WithBatching(true)
		v, err := fx.Verifier("hospital-a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		activate(t, ctx, c, v)
		vs = append(vs, verifier{c, v})
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, x := range vs {
		wg.Go(func() {
			nonce, err := x.v.Nonce("hospital-a")
			if err != nil {
				errs <- err
				return
			}
			ev, wgk, rk, err := x.c.Evidence(ctx, nonce)
			if err != nil {
				errs <- err
				return
			}
			if ev.Version != attest.BatchProtocolVersion {
				errs <- fmt.Errorf("evidence is %s, want batched", ev.Version)
				return
			}
			vd, _, err := x.v.Appraise(ctx, "hospital-a", nonce, ev, wgk, rk)
			if err == nil && !vd.Passed() {
				err = fmt.Errorf("refused: %v", vd.Reasons())
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b.quotes != 1 {
		t.Fatalf("the box quoted %d times for %d verifiers in one window, want 1", b.quotes, n)
	}
}

// TestBatchNegotiation: a verifier that does not ask for v2 gets v1 from a
// batching box; one that asks gets v2, and once it has, a v1 answer from
// the same peer is refused as a downgrade.
func TestBatchNegotiation(t *testing.T) {
	fx := attesttest.New(t)
	b := &scaleBox{box: newBox(fx.Attester(), "hospital-b")}
	batching := serveConfig(t, b, HandlerConfig{Budget: DefaultBudget, BatchWindow: 10 * time.Millisecond})
	ctx := ctxT(t)
	nonce := make([]byte, 32)

	old := NewClient("hospital-b", endpoint(batching))
	if ev, _, _, err := old.Evidence(ctx, nonce); err != nil || ev.Version != attest.ProtocolVersion {
		t.Fatalf("a v1 verifier got %v, %v; want v1 evidence", ev, err)
	}
	c := NewClient("hospital-b", endpoint(batching)).WithBatching(true)
	if ev, _, _, err := c.Evidence(ctx, nonce); err != nil || ev.Version != attest.BatchProtocolVersion {
		t.Fatalf("a v2 verifier got %v, %v; want v2 evidence", ev, err)
	}
	// The same peer now answers v1 (its batching turned off, or a man in
	// the middle strips the header).
	unbatched := serveConfig(t, b, HandlerConfig{Budget: DefaultBudget})
	c.base = "https://" + endpoint(unbatched)
	if _, _, _, err := c.Evidence(ctx, nonce); !errors.Is(err, ErrDowngrade) {
		t.Fatalf("v1 after v2: err = %v, want ErrDowngrade", err)
	}
	c.Reset() // first contact again: the peer may have been reconfigured
	if _, _, _, err := c.Evidence(ctx, nonce); err != nil {
		t.Fatalf("v1 after a new first contact: %v", err)
	}
}

func activate(t *testing.T, ctx context.Context, c *Client, v *attest.Verifier) {
	t.Helper()
	id, err := c.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := v.Challenge(ctx, "hospital-a", id)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Activate(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Activate(ctx, "hospital-a", resp); err != nil {
		t.Fatal(err)
	}
}
