package integration

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/tunnel"
)

// BenchmarkTunnelIperf measures single-stream iperf3 TCP between two network
// namespaces over three paths set up side by side:
//
//  1. the raw veth that joins the namespaces;
//  2. plain wireguard-go: the reference binary built from the pinned module,
//     one process per namespace, configured by hand with wg(8) and ip(8);
//  3. wardgate: one process per namespace (this test binary re-executed),
//     each a tunnel.Device in tun mode with the same WireGuard keys as (2),
//     sealed to its own simulated TPM, and the peer admitted from a real
//     verdict of the attestation verifier.
//
// Runs are interleaved, the order rotating each round (raw, plain, wardgate;
// plain, wardgate, raw; ...), and each figure is the median. Target: wardgate/plain >= 0.95.
//
//	make bench-tunnel
//	TUNBENCH_RUNS=5 TUNBENCH_SECONDS=10 go test -run '^$' -bench BenchmarkTunnelIperf -benchtime 1x -v ./integration/
func BenchmarkTunnelIperf(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("SKIPPED: BenchmarkTunnelIperf needs root for network namespaces and TUN devices (CI runs as root)")
	}
	for _, bin := range []string{"iperf3", "wg", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("SKIPPED: %s not installed (make deps installs iperf3 and wireguard-tools)", bin)
		}
	}
	runs := tunBenchEnv("TUNBENCH_RUNS", 5)
	secs := tunBenchEnv("TUNBENCH_SECONDS", 5)
	env := tunBenchSetup(b)

	paths := []struct {
		name, dst string
		pids      []int // whose CPU time is charged to the path
	}{
		{"raw veth", tunBenchUnderlayB, nil},
		{"plain wireguard-go", tunBenchPlainB, env.plainPids},
		{"wardgate tunnel", tunBenchWardB, env.wardPids},
	}
	// Warm up every path (handshakes, slow start) before measuring.
	for _, p := range paths {
		if _, err := env.iperf(p.dst, 1); err != nil {
			b.Fatalf("%s: warm-up: %v", p.name, err)
		}
	}
	b.ResetTimer()
	results := make([][]float64, len(paths))
	cpuPerGB := make([][]float64, len(paths)) // CPU seconds of both tunnel processes per GB carried
	for i := 0; i < b.N; i++ {
		for r := 0; r < runs; r++ {
			// Rotate the order each round so that no path always runs
			// right after another on a machine with shifting load.
			for k := range paths {
				j := (k + r) % len(paths)
				p := paths[j]
				cpu0 := tunBenchCPU(p.pids)
				bps, err := env.iperf(p.dst, secs)
				if err != nil {
					b.Fatalf("%s run %d: %v", p.name, r+1, err)
				}
				results[j] = append(results[j], bps)
				// Bytes include the omitted first second, approximately.
				gb := bps * float64(secs+1) / 8 / 1e9
				cpuPerGB[j] = append(cpuPerGB[j], (tunBenchCPU(p.pids)-cpu0).Seconds()/gb)
			}
		}
	}
	b.StopTimer()

	med := make([]float64, len(paths))
	fmt.Printf("\nsingle-stream iperf3 TCP, %d interleaved runs of %ds, median Gbit/s\n", runs, secs)
	fmt.Printf("%-22s %8s %10s   %s\n", "path", "median", "cpu-s/GB", "runs (Gbit/s)")
	for j, p := range paths {
		med[j] = tunBenchMedian(results[j])
		var all []string
		for _, v := range results[j] {
			all = append(all, fmt.Sprintf("%.2f", v/1e9))
		}
		cpu := "-"
		if p.pids != nil {
			cpu = fmt.Sprintf("%.2f", tunBenchMedian(cpuPerGB[j]))
		}
		fmt.Printf("%-22s %8.2f %10s   %s\n", p.name, med[j]/1e9, cpu, strings.Join(all, " "))
	}
	wardPlain, wardRaw := med[2]/med[1], med[2]/med[0]
	fmt.Printf("ratio 3/2 wardgate/plain-wireguard-go = %.3f (target >= 0.95)\n", wardPlain)
	fmt.Printf("ratio 3/1 wardgate/raw-veth           = %.3f\n\n", wardRaw)
	b.ReportMetric(med[0]/1e9, "raw-Gbit/s")
	b.ReportMetric(med[1]/1e9, "plainwg-Gbit/s")
	b.ReportMetric(med[2]/1e9, "wardgate-Gbit/s")
	b.ReportMetric(wardPlain, "wardgate/plainwg")
	b.ReportMetric(wardRaw, "wardgate/raw")
	if c := tunBenchMedian(cpuPerGB[1]); c > 0 {
		b.ReportMetric(tunBenchMedian(cpuPerGB[2])/c, "cpu-per-byte-wardgate/plainwg")
		fmt.Printf("CPU per byte, wardgate/plain-wireguard-go = %.3f (lower is better; less sensitive to other load)\n\n", tunBenchMedian(cpuPerGB[2])/c)
	}
}

// Addresses: the veth underlay, and one tunnel subnet per WireGuard path so
// that both tunnels exist side by side and runs can be interleaved.
const (
	tunBenchUnderlayA = "192.168.210.1"
	tunBenchUnderlayB = "192.168.210.2"
	tunBenchPlainA    = "10.90.0.1"
	tunBenchPlainB    = "10.90.0.2"
	tunBenchWardA     = "10.91.0.1"
	tunBenchWardB     = "10.91.0.2"
	tunBenchPlainPort = 51831
	tunBenchWardPort  = 51832
)

type tunBenchEnvT struct {
	b         testing.TB
	nsA       string
	nsB       string
	tmp       string
	server    *exec.Cmd
	plainPids []int // the two wireguard-go processes
	wardPids  []int // the two wardgate processes
}

// tunBenchCPU is the CPU time (user+system) the processes used so far.
func tunBenchCPU(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the ")" that ends the command name: state is the
		// first, utime the 12th and stime the 13th.
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func tunBenchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func tunBenchMedian(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func tunBenchRun(b testing.TB, args ...string) {
	b.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// tunBenchKey is a fresh clamped X25519 key pair, as `wg genkey` makes.
func tunBenchKey(b testing.TB) (priv, pub [32]byte) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	copy(priv[:], k.Bytes())
	priv[0] &= 248
	priv[31] = (priv[31] & 127) | 64
	k, err = ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		b.Fatal(err)
	}
	copy(pub[:], k.PublicKey().Bytes())
	return priv, pub
}

func tunBenchSetup(b *testing.B) *tunBenchEnvT {
	tag := fmt.Sprintf("tbn%d", os.Getpid()%100000)
	env := &tunBenchEnvT{b: b, nsA: tag + "a", nsB: tag + "b", tmp: b.TempDir()}
	for _, ns := range []string{env.nsA, env.nsB} {
		tunBenchRun(b, "ip", "netns", "add", ns)
		ns := ns
		b.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		tunBenchRun(b, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	tunBenchRun(b, "ip", "link", "add", "tbva", "netns", env.nsA, "type", "veth", "peer", "name", "tbvb", "netns", env.nsB)
	tunBenchRun(b, "ip", "-n", env.nsA, "addr", "add", tunBenchUnderlayA+"/24", "dev", "tbva")
	tunBenchRun(b, "ip", "-n", env.nsB, "addr", "add", tunBenchUnderlayB+"/24", "dev", "tbvb")
	tunBenchRun(b, "ip", "-n", env.nsA, "link", "set", "tbva", "up")
	tunBenchRun(b, "ip", "-n", env.nsB, "link", "set", "tbvb", "up")

	privA, pubA := tunBenchKey(b)
	privB, pubB := tunBenchKey(b)

	// Plain wireguard-go from the pinned module.
	wgBin := filepath.Join(env.tmp, "wireguard-go")
	build := exec.Command("go", "build", "-o", wgBin, "golang.zx2c4.com/wireguard")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build reference wireguard-go: %v\n%s", err, out)
	}
	// Interface names carry the pid too: wireguard-go's UAPI sockets live in
	// the shared /var/run/wireguard, not in the namespace.
	pid := strconv.Itoa(os.Getpid() % 100000)
	env.startPlain(wgBin, env.nsA, "tbp"+pid+"a", privA, pubB, tunBenchPlainA, tunBenchPlainB, tunBenchUnderlayB)
	env.startPlain(wgBin, env.nsB, "tbp"+pid+"b", privB, pubA, tunBenchPlainB, tunBenchPlainA, tunBenchUnderlayA)

	// wardgate: the same keys, one process per namespace.
	env.startWardgate(env.nsA, tunBenchChildCfg{Name: "hosp-a", Iface: "tbwa", Addr: tunBenchWardA,
		PeerName: "hosp-b", PeerPub: hex.EncodeToString(pubB[:]), PeerAddr: tunBenchWardB,
		PeerEndpoint: tunBenchUnderlayB, StateDir: filepath.Join(env.tmp, "ward-a")}, privA)
	env.startWardgate(env.nsB, tunBenchChildCfg{Name: "hosp-b", Iface: "tbwb", Addr: tunBenchWardB,
		PeerName: "hosp-a", PeerPub: hex.EncodeToString(pubA[:]), PeerAddr: tunBenchWardA,
		PeerEndpoint: tunBenchUnderlayA, StateDir: filepath.Join(env.tmp, "ward-b")}, privB)

	env.server = exec.Command("ip", "netns", "exec", env.nsB, "iperf3", "-s")
	if err := env.server.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { env.server.Process.Kill(); env.server.Wait() })
	time.Sleep(300 * time.Millisecond) // iperf3 -s has no readiness signal
	return env
}

// startPlain runs wireguard-go in the foreground inside ns and configures it
// the way an operator would.
func (env *tunBenchEnvT) startPlain(bin, ns, ifname string, priv, peerPub [32]byte, addr, peerAddr, peerUnderlay string) {
	b := env.b
	cmd := exec.Command("ip", "netns", "exec", ns, bin, ifname)
	cmd.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	env.plainPids = append(env.plainPids, cmd.Process.Pid) // ip netns exec execs in place
	sock := "/var/run/wireguard/" + ifname + ".sock"
	b.Cleanup(func() { os.Remove(sock) })
	// Wait until the UAPI socket answers; wg(8) falls back to the (absent)
	// kernel module when it cannot connect.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("wireguard-go %s did not create %s", ifname, sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
	keyFile := filepath.Join(env.tmp, ifname+".key")
	if err := os.WriteFile(keyFile, []byte(tunBenchB64(priv)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	tunBenchRun(b, "ip", "netns", "exec", ns, "wg", "set", ifname, "listen-port", strconv.Itoa(tunBenchPlainPort),
		"private-key", keyFile, "peer", tunBenchB64(peerPub),
		"endpoint", peerUnderlay+":"+strconv.Itoa(tunBenchPlainPort), "allowed-ips", peerAddr+"/32")
	tunBenchRun(b, "ip", "-n", ns, "addr", "add", addr+"/32", "dev", ifname)
	tunBenchRun(b, "ip", "-n", ns, "link", "set", ifname, "mtu", strconv.Itoa(tunnel.DefaultMTU), "up")
	tunBenchRun(b, "ip", "-n", ns, "route", "add", peerAddr+"/32", "dev", ifname)
}

// tunBenchB64 is the base64 form wg(8) takes keys in.
func tunBenchB64(k [32]byte) string { return base64.StdEncoding.EncodeToString(k[:]) }

// tunBenchChildCfg tells a re-executed child which box it is.
type tunBenchChildCfg struct {
	Name, Iface, Addr, StateDir string
	PeerName, PeerPub, PeerAddr string
	PeerEndpoint                string
}

// startWardgate re-executes this test binary inside ns as one wardgate box
// (BenchmarkTunBenchChild) and waits until it has admitted its peer.
func (env *tunBenchEnvT) startWardgate(ns string, cfg tunBenchChildCfg, priv [32]byte) {
	b := env.b
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	js, _ := json.Marshal(cfg)
	cmd := exec.Command("ip", "netns", "exec", ns, self,
		"-test.run=^$", "-test.bench=^BenchmarkTunBenchChild$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), "TUNBENCH_CHILD="+string(js))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	env.wardPids = append(env.wardPids, cmd.Process.Pid)
	b.Cleanup(func() {
		stdin.Close() // the child closes its device and exits on EOF
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	// The private key goes over a pipe, never to disk in the clear.
	fmt.Fprintf(stdin, "%s\n", hex.EncodeToString(priv[:]))
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if line == "TUNBENCH_READY" {
				ready <- nil
				io.Copy(io.Discard, stdout)
				return
			}
			if strings.HasPrefix(line, "TUNBENCH_ERROR") {
				ready <- fmt.Errorf("%s", line)
				return
			}
		}
		ready <- fmt.Errorf("child %s exited before it was ready", cfg.Name)
	}()
	select {
	case err := <-ready:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		b.Fatalf("wardgate child %s not ready in 3 minutes", cfg.Name)
	}
}

// iperf runs one single-stream TCP test from ns A to dst and returns the
// receiver's throughput in bit/s.
func (env *tunBenchEnvT) iperf(dst string, secs int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+20)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", env.nsA,
		"iperf3", "-c", dst, "-t", strconv.Itoa(secs), "-O", "1", "-P", "1", "-J").Output()
	if err != nil {
		return 0, fmt.Errorf("iperf3 -c %s: %w\n%s", dst, err, out)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("iperf3 output: %w", err)
	}
	if r.Error != "" || r.End.SumReceived.BitsPerSecond == 0 {
		return 0, fmt.Errorf("iperf3 -c %s: %q", dst, r.Error)
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// BenchmarkTunBenchChild is one wardgate box of BenchmarkTunnelIperf, run in
// its own process inside its namespace. It does nothing unless re-executed
// by the benchmark.
func BenchmarkTunBenchChild(b *testing.B) {
	js := os.Getenv("TUNBENCH_CHILD")
	if js == "" {
		b.Skip("helper process of BenchmarkTunnelIperf")
	}
	fail := func(format string, args ...any) {
		fmt.Printf("TUNBENCH_ERROR "+format+"\n", args...)
		os.Exit(1)
	}
	var cfg tunBenchChildCfg
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fail("config: %v", err)
	}
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		fail("read key: %v", err)
	}
	var priv, peerPub [32]byte
	if n, err := hex.Decode(priv[:], []byte(strings.TrimSpace(line))); err != nil || n != 32 {
		fail("bad private key")
	}
	if n, err := hex.Decode(peerPub[:], []byte(cfg.PeerPub)); err != nil || n != 32 {
		fail("bad peer key")
	}

	// This box's simulated TPM seals the benchmark's key where the tunnel
	// expects it, so that both WireGuard paths use the same keys.
	f := attesttest.New(b)
	ctx := context.Background()
	blob, err := f.TPM().Seal(ctx, priv[:])
	if err != nil {
		fail("seal: %v", err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.StateDir, tunnel.SealedKeyFile), blob, 0o600); err != nil {
		fail("%v", err)
	}
	dev, err := tunnel.New(ctx, tunnel.Config{
		Name: cfg.Name, Mode: tunnel.ModeTUN, Interface: cfg.Iface, ListenPort: tunBenchWardPort,
		Address:  netip.PrefixFrom(netip.MustParseAddr(cfg.Addr), 32),
		StateDir: cfg.StateDir, Sealer: f.TPM(),
		Logger: testutil.QuietLogger(),
	})
	if err != nil {
		fail("tunnel.New: %v", err)
	}
	defer dev.Close()
	rk, _, _ := ed25519.GenerateKey(rand.Reader)
	// A real verdict: the verifier appraises the simulated box's evidence
	// bound to the peer's WireGuard key.
	v := f.Pass(b, cfg.PeerName, peerPub, rk, time.Hour)
	peer := tunnel.PeerConfig{Name: cfg.PeerName, PublicKey: peerPub,
		Endpoint:   netip.AddrPortFrom(netip.MustParseAddr(cfg.PeerEndpoint), tunBenchWardPort),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(cfg.PeerAddr), 32)}}
	if err := dev.Admit(v, peer); err != nil {
		fail("admit: %v", err)
	}
	fmt.Println("TUNBENCH_READY")
	io.Copy(io.Discard, in) // run until the parent closes stdin
}
