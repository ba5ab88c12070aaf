package gateway

import (
	"testing"

	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/tunnel"
)

// TestPeerStateOf: every state the tunnel reports reaches the CLI as the
// control constant of the same name, so `wardgate peers` and its JSON keep
// the words operators and scripts match on.
func TestPeerStateOf(t *testing.T) {
	for tun, want := range map[string]control.PeerState{
		tunnel.StateAdmitted:      control.PeerAdmitted,
		tunnel.StateRevoked:       control.PeerRevoked,
		tunnel.StateExpired:       control.PeerExpired,
		tunnel.StateNeverAdmitted: control.PeerNeverAdmitted,
	} {
		if got := peerStateOf(tun); got != want || string(got) != tun {
			t.Errorf("tunnel state %q became %q, want %q", tun, got, want)
		}
	}
	if got := peerStateOf("paused"); got != "paused" {
		t.Errorf("an unknown tunnel state became %q; it must pass through", got)
	}
}
