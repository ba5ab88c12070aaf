package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/relay"
)

// NAT puts a tun-mode consortium behind hospital NAT, with the NAT relay
// in a namespace of its own on a "public" segment:
//
//	box ns --wan--> router ns (nftables masquerade; forwards outbound
//	only) --up--> public bridge (in the relay's ns) <-- relay
//
// Each box keeps its veth on the cluster's bridge, which stands for the
// hospital LAN (the test's LAN systems at 10.99.0.254); Isolate drops
// every box-to-box packet on it except to the dev chain's port (the
// stand-in for the consortium's chain, which every box reaches outbound),
// so no direct path exists between the boxes.
type NAT struct {
	c        *Cluster
	Dir      string // relay/: pki/ (certificates), run/ (the relay's working dir), relay.log
	RelayBin string
	relayNS  string
	routers  []string
	chain    int

	relayCmd  *exec.Cmd
	relayDone chan struct{}
	inProc    func()
}

// Addresses of the NAT topology.
const (
	RelayIP   = "203.0.113.1" // the relay on the public segment
	relayPort = 443
)

// NATOptions configure NewNAT.
type NATOptions struct {
	Via     string // every peer's via: relay or auto
	Isolate bool   // drop box-to-box traffic on the LAN (no direct path)
}

// NewNAT builds the NAT topology around a prepared (not yet started) tun
// consortium, issues the relay's and the boxes' certificates, builds
// wardgate-relay, and points every box's peers at the relay.
func (c *Cluster) NewNAT(ctx context.Context, o NATOptions) (n *NAT, err error) {
	if c.net == nil {
		return nil, errors.New("cluster: NAT needs a tun-mode cluster")
	}
	n = &NAT{c: c, Dir: filepath.Join(c.spec.Dir, "relay"), relayNS: "wg" + c.net.tag + "-xrelay"}
	built := n // the named result is nil by the time a failing return runs this
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if n.chain, err = chainPort(c.ChainURL); err != nil {
		return nil, err
	}
	if err := n.buildRelay(ctx); err != nil {
		return nil, err
	}
	if err := relay.WriteDevPKI(filepath.Join(n.Dir, "pki"), []string{RelayIP}, c.spec.Boxes); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(n.Dir, "run"), 0o755); err != nil {
		return nil, err
	}
	if err := n.publicSegment(ctx); err != nil {
		return nil, err
	}
	for _, b := range c.boxes {
		if err := n.router(ctx, b); err != nil {
			return nil, err
		}
		if o.Isolate {
			if err := n.isolate(ctx, b); err != nil {
				return nil, err
			}
		}
		if err := n.configure(b, o.Via); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func chainPort(u string) (int, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(pu.Port())
}

func (n *NAT) buildRelay(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	n.RelayBin = filepath.Join(filepath.Dir(n.c.spec.Bin.Daemon), "wardgate-relay")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", n.RelayBin, "./cmd/wardgate-relay")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cluster: go build wardgate-relay: %w\n%s", err, out)
	}
	return nil
}

// publicSegment is the relay's namespace, holding the public bridge.
func (n *NAT) publicSegment(ctx context.Context) error {
	ns := n.relayNS
	return ipSteps(ctx, [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "pub", "type", "bridge"},
		{"-n", ns, "addr", "add", RelayIP + "/24", "dev", "pub"},
		{"-n", ns, "link", "set", "pub", "up"},
	})
}

// router puts b behind a NAT router namespace: b's default route goes
// through it, masqueraded, and nothing from the public side gets in
// unless it answers b's own connections.
func (n *NAT) router(ctx context.Context, b *Box) error {
	i := b.Index
	r := "wg" + n.c.net.tag + "-xnat" + strconv.Itoa(i)
	n.routers = append(n.routers, r)
	lanNet := fmt.Sprintf("172.31.%d.", i)
	up := "203.0.113." + strconv.Itoa(10+i)
	err := ipSteps(ctx, [][]string{
		{"netns", "add", r},
		{"-n", r, "link", "set", "lo", "up"},
		{"-n", r, "link", "add", "up0", "type", "veth", "peer", "name", "pu" + strconv.Itoa(i)},
		{"-n", r, "link", "set", "pu" + strconv.Itoa(i), "netns", n.relayNS},
		{"-n", n.relayNS, "link", "set", "pu" + strconv.Itoa(i), "master", "pub"},
		{"-n", n.relayNS, "link", "set", "pu" + strconv.Itoa(i), "up"},
		{"-n", r, "addr", "add", up + "/24", "dev", "up0"},
		{"-n", r, "link", "set", "up0", "up"},
		{"-n", r, "link", "add", "lan0", "type", "veth", "peer", "name", "wan0"},
		{"-n", r, "link", "set", "wan0", "netns", b.NetNS},
		{"-n", r, "addr", "add", lanNet + "1/24", "dev", "lan0"},
		{"-n", r, "link", "set", "lan0", "up"},
		{"-n", b.NetNS, "addr", "add", lanNet + "2/24", "dev", "wan0"},
		{"-n", b.NetNS, "link", "set", "wan0", "up"},
		{"-n", b.NetNS, "route", "add", "default", "via", lanNet + "1"},
	})
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		return fmt.Errorf("cluster: ip_forward in %s: %w: %s", r, err, out)
	}
	return nft(ctx, r, `
table ip wgnat {
	chain natpost { type nat hook postrouting priority 100; oifname "up0" masquerade; }
	chain natfwd {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "lan0" oifname "up0" accept
	}
}`)
}

// isolate drops b's traffic with the other boxes on the LAN bridge,
// except the dev chain's TCP port.
func (n *NAT) isolate(ctx context.Context, b *Box) error {
	lan := fmt.Sprintf("wp%s%d", n.c.net.tag, b.Index)
	return nft(ctx, b.NetNS, fmt.Sprintf(`
table inet wgisolate {
	chain boxin {
		type filter hook input priority 0; policy accept;
		iifname %[1]q ip saddr %[2]s accept
		iifname %[1]q tcp dport %[3]d accept
		iifname %[1]q tcp sport %[3]d accept
		iifname %[1]q drop
	}
	chain boxout {
		type filter hook output priority 0; policy accept;
		oifname %[1]q ip daddr %[2]s accept
		oifname %[1]q tcp dport %[3]d accept
		oifname %[1]q tcp sport %[3]d accept
		oifname %[1]q drop
	}
}`, lan, hostIP, n.chain))
}

// BlockDirect drops (on) or allows again (off) all traffic between b and
// the other boxes on the LAN: the direct path.
func (n *NAT) BlockDirect(ctx context.Context, b *Box, on bool) error {
	if !on {
		return nft(ctx, b.NetNS, "delete table inet wgblock")
	}
	var rules []string
	for _, o := range n.c.boxes {
		if o != b {
			rules = append(rules, "ip saddr "+o.Host+" drop", "ip daddr "+o.Host+" drop")
		}
	}
	return nft(ctx, b.NetNS, fmt.Sprintf(`
table inet wgblock {
	chain boxin {
		type filter hook input priority -10; policy accept;
		%[1]s
	}
	chain boxout {
		type filter hook output priority -10; policy accept;
		%[1]s
	}
}`, strings.Join(rules, "\n\t\t")))
}

// configure points b at the relay and sets every peer's via.
func (n *NAT) configure(b *Box, via string) error {
	pki := filepath.Join(n.Dir, "pki")
	data, err := os.ReadFile(b.ConfigPath)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("cluster: %s: %w", b.ConfigPath, err)
	}
	doc["relay"] = map[string]any{"url": "tls://" + net.JoinHostPort(RelayIP, strconv.Itoa(relayPort)),
		"ca": filepath.Join(pki, "ca.pem"), "cert": filepath.Join(pki, b.Name+".pem"), "key": filepath.Join(pki, b.Name+"-key.pem")}
	peers, _ := doc["peers"].([]any)
	for _, p := range peers {
		if m, ok := p.(map[string]any); ok {
			m["via"] = via
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(b.ConfigPath, out, 0o644)
}

// StartRelay runs wardgate-relay in the relay's namespace, its working
// directory run/ (which must stay empty) and its log relay.log.
func (n *NAT) StartRelay(ctx context.Context) error {
	pki := filepath.Join(n.Dir, "pki")
	lf, err := os.OpenFile(filepath.Join(n.Dir, "relay.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", n.relayNS, n.RelayBin,
		"--listen", net.JoinHostPort(RelayIP, strconv.Itoa(relayPort)), "--cert", filepath.Join(pki, "relay.pem"),
		"--key", filepath.Join(pki, "relay-key.pem"), "--ca", filepath.Join(pki, "ca.pem"),
		"--allow", strings.Join(n.c.spec.Boxes, ","), "--metrics", net.JoinHostPort(RelayIP, "9443"))
	cmd.Dir = filepath.Join(n.Dir, "run")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("cluster: starting wardgate-relay: %w", err)
	}
	n.relayCmd, n.relayDone = cmd, make(chan struct{})
	go func() { cmd.Wait(); lf.Close(); close(n.relayDone) }()
	return n.waitRelay(ctx)
}

// waitRelay waits until the relay accepts connections.
func (n *NAT) waitRelay(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", n.relayNS, "ss", "-Hltn", "sport = :443").Output()
		if strings.TrimSpace(string(out)) != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: wardgate-relay not listening: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// KillRelay kills wardgate-relay (SIGKILL) and waits for it.
func (n *NAT) KillRelay() {
	if n.relayCmd != nil {
		n.relayCmd.Process.Kill()
		<-n.relayDone
		n.relayCmd = nil
	}
}

// RelayPID is the running wardgate-relay's process (ip netns exec
// execs it in place), or 0.
func (n *NAT) RelayPID() int {
	if n.relayCmd == nil {
		return 0
	}
	return n.relayCmd.Process.Pid
}

// StartRelayInProcess serves a relay from the test process instead,
// listening in the relay's namespace, with srvCfg's Tamper hook: a
// hostile relay. Its TLS and allow list are filled in here.
func (n *NAT) StartRelayInProcess(ctx context.Context, srvCfg relay.ServerConfig) error {
	pki := filepath.Join(n.Dir, "pki")
	tc, err := relay.LoadTLS(filepath.Join(pki, "relay.pem"), filepath.Join(pki, "relay-key.pem"), filepath.Join(pki, "ca.pem"))
	if err != nil {
		return err
	}
	srvCfg.TLS, srvCfg.Allowed = tc, n.c.spec.Boxes
	srv, err := relay.NewServer(srvCfg)
	if err != nil {
		return err
	}
	ln, err := listenIn(n.relayNS, net.JoinHostPort(RelayIP, strconv.Itoa(relayPort)))
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { srv.Serve(sctx, ln); close(done) }()
	n.inProc = func() { cancel(); <-done }
	return nil
}

// listenIn opens a TCP listener inside the named namespace; the socket
// stays there whichever thread serves it.
func listenIn(name, addr string) (net.Listener, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return nil, err
	}
	defer netns.Set(orig)
	return net.Listen("tcp", addr)
}

// Close stops the relay and removes the NAT namespaces.
func (n *NAT) Close() {
	n.KillRelay()
	if n.inProc != nil {
		n.inProc()
	}
	ctx := context.Background()
	for _, r := range n.routers {
		ipCmd(ctx, "netns", "del", r)
	}
	ipCmd(ctx, "netns", "del", n.relayNS)
}

func ipSteps(ctx context.Context, steps [][]string) error {
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// nft loads an nftables ruleset into a namespace.
func nft(ctx context.Context, ns, rules string) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cluster: nft in %s: %w: %s", ns, err, out)
	}
	return nil
}
