package gateway

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/wardgate/wardgate/attest/peerproto"
	"github.com/wardgate/wardgate/gateway/config"
)

// TestUnderlay: a request naming a peer is answered only from the
// addresses of that peer's configured endpoints (literal or resolved); a
// caller elsewhere, even on the same network, is refused as
// ErrWrongSource with the addresses it should have come from.
func TestUnderlay(t *testing.T) {
	ctx := context.Background()
	lit := newUnderlay(config.Peer{Name: "b", Endpoint: "192.0.2.7:7443", WireGuardEndpoint: "[2001:db8::7]:51820"})
	for _, ok := range []string{"192.0.2.7", "2001:db8::7", "::ffff:192.0.2.7"} {
		if err := lit.check(ctx, "b", netip.MustParseAddr(ok)); err != nil {
			t.Errorf("from %s: %v", ok, err)
		}
	}
	err := lit.check(ctx, "b", netip.MustParseAddr("192.0.2.8"))
	if !errors.Is(err, peerproto.ErrWrongSource) {
		t.Fatalf("from another host: %v, want ErrWrongSource", err)
	}
	want := "b is configured at [192.0.2.7 2001:db8::7], the request came from 192.0.2.8"
	if got := err.Error(); got != peerproto.ErrWrongSource.Error()+": "+want {
		t.Errorf("refusal %q does not say %q", got, want)
	}

	named := newUnderlay(config.Peer{Name: "c", Endpoint: "localhost:7443", WireGuardEndpoint: "192.0.2.9:51820"})
	if err := named.check(ctx, "c", netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("from what localhost resolves to: %v", err)
	}
	if err := named.check(ctx, "c", netip.MustParseAddr("192.0.2.10")); !errors.Is(err, peerproto.ErrWrongSource) {
		t.Errorf("from elsewhere: %v", err)
	}
	if named.refresh(ctx) {
		t.Error("host names resolved again within underlayRefresh: callers could drive DNS lookups")
	}
}
