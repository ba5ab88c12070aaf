package integration

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// BenchmarkRelayIperf measures single-stream iperf3 TCP through the
// wardgate tunnel between two boxes behind NAT (via: auto), on the direct
// path and through wardgate-relay, in the same run: runs alternate, the
// direct path blocked by an nftables rule for the relayed ones. It also
// reports the relay process's CPU seconds per GB relayed. Target:
// relayed/direct >= 0.5.
//
//	make bench-relay
//	RELAYBENCH_RUNS=3 RELAYBENCH_SECONDS=5 go test -run '^$' -bench BenchmarkRelayIperf -benchtime 1x -v ./integration/
func BenchmarkRelayIperf(b *testing.B) {
	requireRoot(b)
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("SKIPPED: iperf3 not installed (make deps installs it)")
	}
	runs := tunBenchEnv("RELAYBENCH_RUNS", 3)
	secs := tunBenchEnv("RELAYBENCH_SECONDS", 5)
	c, n := natCluster(b, 10*time.Second, cluster.NATOptions{Via: "auto"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	A, B := c.Box("hospital-a"), c.Box("hospital-b")
	if err := n.StartRelay(ctx); err != nil {
		b.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", B.NetNS, "iperf3", "-s", "-B", B.TunnelIP.String())
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	env := &tunBenchEnvT{b: b, nsA: A.NetNS}

	var direct, relayed, relayCPU []float64
	b.ResetTimer()
	for r := 0; r < runs; r++ {
		for _, path := range []string{"direct", "relay"} {
			relayPath(ctx, b, n, A, B, path)
			cpu0 := tunBenchCPU([]int{n.RelayPID()})
			bps, err := env.iperf(B.TunnelIP.String(), secs)
			if err != nil {
				b.Fatalf("%s run %d: %v", path, r+1, err)
			}
			if path == "direct" {
				direct = append(direct, bps)
				continue
			}
			relayed = append(relayed, bps)
			gb := bps * float64(secs+1) / 8 / 1e9
			relayCPU = append(relayCPU, (tunBenchCPU([]int{n.RelayPID()})-cpu0).Seconds()/gb)
		}
	}
	b.StopTimer()
	d, rl, cpu := tunBenchMedian(direct), tunBenchMedian(relayed), tunBenchMedian(relayCPU)
	fmt.Printf("\nsingle-stream iperf3 TCP through the wardgate tunnel, %d alternating runs of %ds, median\n", runs, secs)
	fmt.Printf("direct path      %6.3f Gbit/s   runs %s\n", d/1e9, gbits(direct))
	fmt.Printf("through relay    %6.3f Gbit/s   runs %s\n", rl/1e9, gbits(relayed))
	fmt.Printf("ratio relayed/direct = %.3f (target >= 0.5)\n", rl/d)
	fmt.Printf("relay CPU = %.2f cpu-s per GB relayed\n\n", cpu)
	b.ReportMetric(d/1e9, "direct-Gbit/s")
	b.ReportMetric(rl/1e9, "relayed-Gbit/s")
	b.ReportMetric(rl/d, "relayed/direct")
	b.ReportMetric(cpu, "relay-cpu-s/GB")
}

// relayPath puts A<->B on path (direct: no block; relay: direct blocked)
// and waits until both boxes use it and the tunnel carries.
func relayPath(ctx context.Context, b testing.TB, n *cluster.NAT, A, B *cluster.Box, path string) {
	b.Helper()
	_ = n.BlockDirect(ctx, A, false) // not blocked yet: nothing to delete
	if path == "relay" {
		if err := n.BlockDirect(ctx, A, true); err != nil {
			b.Fatal(err)
		}
	}
	for _, pair := range [][2]*cluster.Box{{A, B}, {B, A}} {
		if _, err := pair[0].WaitPeer(ctx, pair[1].Name, onPath(path)); err != nil {
			b.Fatal(err)
		}
	}
	if out, err := A.Exec(ctx, "ping", "-c", "1", "-w", "10", B.TunnelIP.String()); err != nil {
		b.Fatalf("tunnel on the %s path: %v\n%s", path, err, out)
	}
}

func gbits(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.3f", x/1e9))
	}
	return strings.Join(s, " ")
}
