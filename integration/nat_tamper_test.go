package integration

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/relay"
)

// TestNATRelayTamper: a relay that alters what it forwards gets nothing
// through. WireGuard drops the altered packets (the tunnel carries
// nothing), the end-to-end TLS of attestation fails, and the peer leaves
// the tunnel with the reason named; once the relay stops, all is well.
func TestNATRelayTamper(t *testing.T) {
	c, n := natCluster(t, 2*time.Second, cluster.NATOptions{Via: "relay", Isolate: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	A, B := c.Box("hospital-a"), c.Box("hospital-b")
	var tamper atomic.Bool
	var altered atomic.Uint64
	err := n.StartRelayInProcess(ctx, relay.ServerConfig{Tamper: func(f *relay.Frame) {
		if tamper.Load() && len(f.Payload) > 0 && (f.Type == relay.TypePacket || f.Type == relay.TypeData) {
			f.Payload[len(f.Payload)-1] ^= 0x01
			altered.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := A.WaitPeer(ctx, "hospital-b", onPath("relay")); err != nil {
		t.Fatal(err)
	}
	if out, err := A.Exec(ctx, "ping", "-c", "1", "-w", "15", B.TunnelIP.String()); err != nil {
		t.Fatalf("ping through the relayed tunnel before tampering: %v\n%s", err, out)
	}

	tamper.Store(true)
	if out, err := A.Exec(ctx, "ping", "-c", "3", "-W", "1", B.TunnelIP.String()); err == nil {
		t.Fatalf("a ping crossed the tunnel while the relay altered every packet:\n%s", out)
	}
	// Attestation through the altered streams fails, by name; the verdict
	// runs out and B leaves A's tunnel.
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	p, err := A.WaitPeer(wctx, "hospital-b", func(p cluster.Peer) bool {
		return p.State != "admitted" && reasonSays(p, "bad record MAC")
	})
	if err != nil {
		t.Fatalf("B did not leave A's tunnel with the integrity failure named: state %s, reasons %+v: %v", p.State, p.Reasons, err)
	}
	if altered.Load() == 0 {
		t.Fatal("the relay altered nothing; the test proves nothing")
	}

	// The relay behaves again: B is admitted again and the tunnel carries.
	tamper.Store(false)
	for _, pair := range [][2]*cluster.Box{{A, B}, {B, A}} {
		if _, err := pair[0].WaitPeer(ctx, pair[1].Name, onPath("relay")); err != nil {
			t.Fatal(err)
		}
	}
	// -w: a fresh handshake follows the re-admission; ping until it is up.
	if out, err := A.Exec(ctx, "ping", "-c", "1", "-w", "15", B.TunnelIP.String()); err != nil {
		t.Fatalf("ping after the relay stopped tampering: %v\n%s", err, out)
	}
}

func reasonSays(p cluster.Peer, s string) bool {
	for _, r := range p.Reasons {
		if strings.Contains(r.Message, s) {
			return true
		}
	}
	return false
}
