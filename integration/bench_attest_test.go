package integration

import (
	"context"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// BenchmarkStartToTunnel is the time from starting two fresh boxes together
// to both having admitted the other (a passing tunnel), as separate
// wardgated processes with simulated TPMs on loopback. Preparing the
// consortium (identities, manifest) is outside the timer. The first box
// also starts the embedded dev chain.
//
//	go test -run '^$' -bench StartToTunnel -benchtime 5x ./integration/
func BenchmarkStartToTunnel(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		c := newCluster(b, cluster.Userspace, []string{"a", "b"})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		A, B := c.Box("a"), c.Box("b")
		b.StartTimer()
		total += startPair(ctx, b, A, B)
		b.StopTimer()
		cancel()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/tunnel-up")
}

// startPair starts A and B together and returns how long until each has
// admitted the other.
func startPair(ctx context.Context, b testing.TB, A, B *cluster.Box) time.Duration {
	t0 := time.Now()
	if err := A.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if err := B.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := A.WaitPeer(ctx, B.Name, admitted); err != nil {
		b.Fatal(err)
	}
	if _, err := B.WaitPeer(ctx, A.Name, admitted); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// BenchmarkRestartToTunnel is the same with both boxes already enrolled on
// the chain (their second start): what a reboot costs.
//
//	go test -run '^$' -bench RestartToTunnel -benchtime 5x ./integration/
func BenchmarkRestartToTunnel(b *testing.B) {
	c := newCluster(b, cluster.Userspace, []string{"a", "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	A, B := c.Box("a"), c.Box("b")
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		A.Stop(ctx)
		B.Stop(ctx)
		b.StartTimer()
		total += startPair(ctx, b, A, B)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/tunnel-up")
}

// BenchmarkTamperToRevocation changes a measured component (the kernel)
// of b's image on disk while b runs, and times how long a keeps b admitted
// afterwards: b's IMA measures the changed file, a's next round appraises
// the runtime list and revokes b, as production runs it (no restart, no
// hello). The target is the re-attestation interval (2s) + 1 s.
//
//	go test -run '^$' -bench TamperToRevocation -benchtime 3x ./integration/
func BenchmarkTamperToRevocation(b *testing.B) {
	var total time.Duration
	const interval = 2 * time.Second
	for b.Loop() {
		b.StopTimer()
		c := newCluster(b, cluster.Userspace, []string{"a", "b"})
		enableRuntime(b, c)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		A, B := c.Box("a"), c.Box("b")
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := A.WaitPeer(ctx, "b", admitted); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := B.TamperRunning(); err != nil {
			b.Fatal(err)
		}
		p, err := A.WaitPeer(ctx, "b", func(p cluster.Peer) bool { return p.State != "admitted" })
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		b.StopTimer()
		if !hasRuntimeReason(p) {
			b.Fatalf("b was revoked with %+v, not runtime-unapproved", p.Reasons)
		}
		cancel()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/revocation")
	b.ReportMetric(total.Seconds()/float64(b.N)/(interval+time.Second).Seconds(), "ratio-to-interval+1s")
}

func hasRuntimeReason(p cluster.Peer) bool {
	for _, r := range p.Reasons {
		if r.Code == "runtime-unapproved" {
			return true
		}
	}
	return false
}
