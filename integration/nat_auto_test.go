package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// TestNATRelayAuto: with via: auto, traffic goes direct while the direct
// path is open; block it (an nftables drop rule) and both boxes move to
// the relay within a few seconds, and the tunnel carries again; unblock
// it and they come back.
func TestNATRelayAuto(t *testing.T) {
	c, n := natCluster(t, 2*time.Second, cluster.NATOptions{Via: "auto"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	A, B := c.Box("hospital-a"), c.Box("hospital-b")
	if err := n.StartRelay(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*cluster.Box{{A, B}, {B, A}} {
		if _, err := pair[0].WaitPeer(ctx, pair[1].Name, onPath("direct")); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := A.Exec(ctx, "ping", "-c", "1", "-w", "15", B.TunnelIP.String()); err != nil {
		t.Fatalf("ping on the direct path: %v\n%s", err, out)
	}

	if err := n.BlockDirect(ctx, A, true); err != nil {
		t.Fatal(err)
	}
	blocked := time.Now()
	for _, pair := range [][2]*cluster.Box{{A, B}, {B, A}} {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := pair[0].WaitPeer(wctx, pair[1].Name, onPath("relay"))
		wcancel()
		if err != nil {
			t.Fatalf("%s did not move %s to the relay within 10s of the block: %v", pair[0].Name, pair[1].Name, err)
		}
	}
	t.Logf("both boxes on the relay %v after the direct path was blocked", time.Since(blocked).Round(time.Millisecond))
	if out, err := A.Exec(ctx, "ping", "-c", "1", "-w", "10", B.TunnelIP.String()); err != nil {
		t.Fatalf("ping through the tunnel once on the relay: %v\n%s", err, out)
	}
	if code, body, err := A.PostRecord(ctx, "hospital-b", "application/fhir+json", fhirBundle(9201)); err != nil || code != http.StatusOK {
		t.Fatalf("record A->B on the relay path: %d %s %v", code, body, err)
	}
	if v := metricSum(scrape(ctx, t, A), "wardgate_relay_bytes_total", "kind", "packet"); v == 0 {
		t.Error("wardgate_relay_bytes_total{kind=packet} = 0 after traffic moved to the relay")
	}

	if err := n.BlockDirect(ctx, A, false); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*cluster.Box{{A, B}, {B, A}} {
		if _, err := pair[0].WaitPeer(ctx, pair[1].Name, onPath("direct")); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := A.Exec(ctx, "ping", "-c", "1", "-w", "10", B.TunnelIP.String()); err != nil {
		t.Fatalf("ping back on the direct path: %v\n%s", err, out)
	}
}
