// Package cluster runs a local wardgate consortium for the integration tests
// and `make demo`: each hospital is its own wardgated process with its own
// simulated TPM, on loopback with userspace tunnels (no root) or in network
// namespaces with kernel TUN devices (root).
//
// It does what a consortium operator does by hand: build the binaries, give
// every box a firmware image, read each box's EK identity and measurements
// (`wardgated --identity`), sign a firmware manifest with a vendor key, write
// every box's wardgate.yaml with the others enrolled, and start the boxes.
// It talks to the boxes only the way people do: the wardgate CLI, the LAN
// record API, and the files in each box's directory.
package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/tunnel"
)

// Mode is how the boxes are networked: the tunnel mode every box runs.
type Mode = tunnel.Mode

const (
	// Userspace runs every box on loopback with a netstack tunnel; no root.
	Userspace = tunnel.ModeUserspace
	// Tun runs every box in its own network namespace with a kernel TUN,
	// joined by veths to a bridge; root only.
	Tun = tunnel.ModeTUN
)

// Binaries are the built wardgated and wardgate.
type Binaries struct {
	Daemon string
	CLI    string
}

// Build compiles wardgated and wardgate from the module containing this
// package into dir.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := moduleRoot()
	if err != nil {
		return Binaries{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/", "./cmd/wardgated", "./cmd/wardgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("cluster: go build: %w\n%s", err, out)
	}
	return Binaries{Daemon: filepath.Join(dir, "wardgated"), CLI: filepath.Join(dir, "wardgate")}, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("cluster: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("cluster: not inside the wardgate module")
	}
	return filepath.Dir(mod), nil
}

// Spec describes a consortium.
type Spec struct {
	Dir  string // everything goes under here: one folder per box, the CA, the manifest, logs
	Bin  Binaries
	Mode Mode
	// Boxes are the hospital names; the first one serves the dev chain.
	Boxes []string
	// Tampered boxes boot a kernel that is not in the signed manifest.
	Tampered []string
	// Interval is the re-attestation interval (default 2s); verdicts live
	// Lifetime (default 2 x Interval).
	Interval, Lifetime time.Duration
	Logger             *slog.Logger
}

// Cluster is a prepared (and, after Start, running) consortium.
type Cluster struct {
	spec     Spec
	log      *slog.Logger
	boxes    []*Box
	byName   map[string]*Box
	net      *netnsNet // tun mode only
	ChainURL string    // the dev chain's JSON-RPC, served by the first box
	Sink     *Sink     // the hospitals' LAN systems that receive records
}

// Box is one hospital's wardgated.
type Box struct {
	Name       string
	Index      int
	Dir        string // the box's folder: wardgate.yaml, state/, wardgated.log
	ConfigPath string
	Socket     string
	LogPath    string
	NetNS      string // tun mode: the namespace it runs in
	Host       string // underlay address: 127.0.0.1, or its veth address
	AttestPort int
	WGPort     int
	LANPort    int
	MLLPPort   int
	Metrics    string
	TunnelIP   netip.Addr

	// Daemon, if set, is the wardgated this box runs instead of the
	// cluster's: a box on another build of the same source.
	Daemon string

	lanTLS     *tls.Config // the EHR's client side of an mTLS records intake
	metricsTLS *tls.Config // the scraper's, for metrics over mTLS
	c          *Cluster
	kernel     string // this box's kernel image file
	cmd        *exec.Cmd
	done       chan struct{}
	err        error
}

const (
	tunnelNet = "10.77.0." // box i has 10.77.0.(i+1), as --dev-consortium assigns
	hostIP    = "10.99.0.254"
)

// New prepares the consortium under spec.Dir: images, dev CA, identities,
// signed manifest and configs. In tun mode it also builds the namespaces.
func New(ctx context.Context, spec Spec) (_ *Cluster, err error) {
	if spec.Interval == 0 {
		spec.Interval = 2 * time.Second
	}
	if spec.Lifetime == 0 {
		spec.Lifetime = 2 * spec.Interval
	}
	if spec.Logger == nil {
		spec.Logger = slog.New(slog.DiscardHandler)
	}
	if len(spec.Boxes) == 0 || len(spec.Boxes) > 200 {
		return nil, fmt.Errorf("cluster: need 1..200 boxes, got %d", len(spec.Boxes))
	}
	c := &Cluster{spec: spec, log: spec.Logger, byName: map[string]*Box{}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return nil, err
	}
	if spec.Mode == Tun {
		n, err := newNetnsNet(ctx, spec.Boxes)
		if err != nil {
			return nil, err
		}
		c.net = n
	}
	sinkHost := "127.0.0.1"
	if spec.Mode == Tun {
		sinkHost = hostIP
	}
	c.Sink, err = StartSink(sinkHost)
	if err != nil {
		return nil, err
	}
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Box returns the named box, or nil.
func (c *Cluster) Box(name string) *Box { return c.byName[name] }

// Boxes returns every box in order.
func (c *Cluster) Boxes() []*Box { return slices.Clone(c.boxes) }

// Dir is where the consortium's files are.
func (c *Cluster) Dir() string { return c.spec.Dir }

// prepare has `wardgated --dev-consortium` write the consortium (dev CA,
// vendor key, signed manifest, one config per box with the others
// enrolled), then points each box's LAN delivery at the sink and adds an
// MLLP intake, as a hospital's engineer would edit the records section.
func (c *Cluster) prepare(ctx context.Context) error {
	base, err := c.basePort(len(c.spec.Boxes))
	if err != nil {
		return err
	}
	mode := tunnel.ModeUserspace
	hosts := make([]string, len(c.spec.Boxes))
	for i := range hosts {
		hosts[i] = "127.0.0.1"
	}
	if c.net != nil {
		mode, hosts = tunnel.ModeTUN, c.net.addr
	}
	args := []string{"--dev-consortium", c.spec.Dir, "--boxes", strings.Join(c.spec.Boxes, ","),
		"--tunnel", string(mode), "--hosts", strings.Join(hosts, ","), "--base-port", strconv.Itoa(base),
		"--interval", c.spec.Interval.String(), "--verdict-lifetime", c.spec.Lifetime.String()}
	if len(c.spec.Tampered) > 0 {
		args = append(args, "--tamper", strings.Join(c.spec.Tampered, ","))
	}
	if out, err := exec.CommandContext(ctx, c.spec.Bin.Daemon, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("cluster: wardgated %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for i, name := range c.spec.Boxes {
		dir := filepath.Join(c.spec.Dir, name)
		b := &Box{Name: name, Index: i, c: c, Dir: dir, ConfigPath: filepath.Join(dir, "wardgate.yaml"),
			LogPath: filepath.Join(dir, "wardgated.log"), kernel: filepath.Join(dir, "image", "kernel.bin"),
			Host: hosts[i], TunnelIP: netip.MustParseAddr(tunnelNet + strconv.Itoa(i+1))}
		if c.net != nil {
			b.NetNS = c.net.ns[i]
		}
		if err := b.editConfig(base + 10*i + 4); err != nil {
			return err
		}
		c.boxes = append(c.boxes, b)
		c.byName[name] = b
	}
	c.ChainURL = "http://" + net.JoinHostPort(hosts[0], strconv.Itoa(base+9))
	return nil
}

// basePort finds n*10 free loopback ports in a row (tun mode uses the same
// numbers inside each namespace, where they are free anyway).
func (c *Cluster) basePort(n int) (int, error) {
	for try := 0; try < 50; try++ {
		// Below the kernel's ephemeral range (32768+), so outgoing
		// connections elsewhere on the machine cannot take these ports.
		var rb [2]byte
		rand.Read(rb[:])
		base := 20000 + (int(rb[0])<<8|int(rb[1]))%1200*10
		ok := true
		for p := base; p < base+10*n && ok; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
			u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("cluster: no free run of ports")
}

// SetConfig sets one key of b's wardgate.yaml (dotted path, e.g.
// "records.tls_cert"), as an engineer editing the file would; it takes
// effect at b's next start.
func (b *Box) SetConfig(key string, value any) error {
	data, err := os.ReadFile(b.ConfigPath)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("cluster: %s: %w", b.ConfigPath, err)
	}
	m := doc
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = value
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(b.ConfigPath, out, 0o644)
}

// editConfig reads the generated config for the box's addresses, and
// points records at the sink with an MLLP intake on mllpPort.
func (b *Box) editConfig(mllpPort int) error {
	data, err := os.ReadFile(b.ConfigPath)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("cluster: %s: %w", b.ConfigPath, err)
	}
	get := func(path ...string) any {
		var v any = doc
		for _, k := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	hostPort := func(path ...string) (int, error) {
		s, _ := get(path...).(string)
		_, p, err := net.SplitHostPort(s)
		if err != nil {
			return 0, fmt.Errorf("cluster: %s: %s: %q: %w", b.ConfigPath, strings.Join(path, "."), s, err)
		}
		return strconv.Atoi(p)
	}
	if b.AttestPort, err = hostPort("attestation", "listen"); err != nil {
		return err
	}
	if b.LANPort, err = hostPort("records", "lan_listen"); err != nil {
		return err
	}
	wg, _ := get("tunnel", "listen_port").(int)
	b.WGPort, b.MLLPPort = wg, mllpPort
	b.Socket, _ = get("control", "socket").(string)
	b.Metrics, _ = get("metrics", "listen").(string)
	if s, _ := get("metrics", "tls_cert").(string); s != "" {
		if b.metricsTLS, err = b.c.devTLS("client"); err != nil {
			return err
		}
	}
	rec, _ := doc["records"].(map[string]any)
	if rec == nil {
		rec = map[string]any{}
		doc["records"] = rec
	}
	rec["deliver_url"] = b.c.Sink.URL(b.Name)
	rec["mllp_listen"] = net.JoinHostPort(b.Host, strconv.Itoa(mllpPort))
	// HL7 engines address boxes by receiving facility (MSH-6).
	routes := map[string]string{}
	for _, p := range b.c.spec.Boxes {
		if p != b.Name {
			routes[p] = p
		}
	}
	rec["mllp_routes"] = routes
	if s, _ := rec["tls_cert"].(string); s != "" {
		// mTLS intake: the test plays the EHR with the dev client
		// certificate, and the HL7 engine speaks MLLPS.
		if b.lanTLS, err = b.c.lanTLS(); err != nil {
			return err
		}
		rec["mllp_tls"] = true
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	hdr := "# Generated by `wardgated --dev-consortium`; records pointed at the test's LAN systems by integration/cluster.\n"
	return os.WriteFile(b.ConfigPath, append([]byte(hdr), out...), 0o644)
}

// Start starts the named boxes (all when none are named), the chain server
// first, and waits until each answers `wardgate status`.
func (c *Cluster) Start(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		for _, b := range c.boxes {
			names = append(names, b.Name)
		}
	}
	for _, n := range names {
		b := c.byName[n]
		if b == nil {
			return fmt.Errorf("cluster: no box %q", n)
		}
		if err := b.Start(ctx); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := c.byName[n].WaitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Start runs b's wardgated in the background, logging to b.LogPath.
func (b *Box) Start(ctx context.Context) error {
	if b.cmd != nil {
		return fmt.Errorf("cluster: %s is already running", b.Name)
	}
	lf, err := os.OpenFile(b.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Not CommandContext: the box outlives the call that starts it.
	daemon := b.c.spec.Bin.Daemon
	if b.Daemon != "" {
		daemon = b.Daemon
	}
	cmd := b.command(context.Background(), daemon, "--config", b.ConfigPath)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("cluster: starting %s: %w", b.Name, err)
	}
	b.cmd, b.done = cmd, make(chan struct{})
	go func() {
		b.err = cmd.Wait()
		lf.Close()
		close(b.done)
	}()
	b.c.log.Info("started", "box", b.Name, "pid", cmd.Process.Pid)
	return nil
}

// Running reports whether b's process is alive.
func (b *Box) Running() bool {
	if b.cmd == nil {
		return false
	}
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// exitErr is a process's wait error, or says it exited cleanly: wrapped
// with %w, a nil error would print as %!w(<nil>).
func exitErr(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// WaitReady waits until b's control socket reports ready.
func (b *Box) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		if !b.Running() {
			return fmt.Errorf("cluster: %s exited while starting (%w); log:\n%s", b.Name, exitErr(b.err), b.LogTail(40))
		}
		var st struct {
			Ready bool `json:"ready"`
		}
		if err := b.CLIJSON(ctx, &st, "status"); err == nil && st.Ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s not ready: %w; log:\n%s", b.Name, ctx.Err(), b.LogTail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for b to exit.
func (b *Box) Stop(ctx context.Context) error { return b.signal(ctx, syscall.SIGTERM) }

// Kill sends SIGKILL (kill -9) and waits for b to exit.
func (b *Box) Kill(ctx context.Context) error { return b.signal(ctx, syscall.SIGKILL) }

func (b *Box) signal(ctx context.Context, sig syscall.Signal) error {
	if b.cmd == nil {
		return nil
	}
	b.cmd.Process.Signal(sig)
	select {
	case <-b.done:
	case <-time.After(20 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	case <-ctx.Done():
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
	b.c.log.Info("stopped", "box", b.Name, "signal", sig.String())
	return nil
}

// LogTail returns the last n lines of b's log.
func (b *Box) LogTail(n int) string {
	data, _ := os.ReadFile(b.LogPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CLI runs `wardgate --socket <b's socket> args...` and returns its stdout;
// a non-zero exit is an error carrying stderr.
func (b *Box) CLI(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.c.spec.Bin.CLI, append([]string{"--socket", b.Socket}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("wardgate %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// CLIJSON runs the CLI with --json and decodes its output into v.
func (b *Box) CLIJSON(ctx context.Context, v any, args ...string) error {
	out, err := b.CLI(ctx, append(args, "--json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("wardgate %s --json printed %q: %w", strings.Join(args, " "), out, err)
	}
	return nil
}

// Peer is one row of `wardgate peers --json`.
type Peer struct {
	Name         string    `json:"name"`
	State        string    `json:"state"`
	Verdict      string    `json:"verdict"`
	WireGuardKey string    `json:"wireguard_key"`
	Path         string    `json:"path"` // direct | relay
	Expiry       time.Time `json:"expiry"`
	LastReportID string    `json:"last_report_id"`
	RxBytes      uint64    `json:"rx_bytes"`
	TxBytes      uint64    `json:"tx_bytes"`
	Reasons      []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reasons"`
}

// Peers returns `wardgate peers` as b sees them, by name.
func (b *Box) Peers(ctx context.Context) (map[string]Peer, error) {
	var ps []Peer
	if err := b.CLIJSON(ctx, &ps, "peers"); err != nil {
		return nil, err
	}
	m := map[string]Peer{}
	for _, p := range ps {
		m[p.Name] = p
	}
	return m, nil
}

// WaitPeer polls b's peers until cond holds for peer, or ctx ends.
func (b *Box) WaitPeer(ctx context.Context, peer string, cond func(Peer) bool) (Peer, error) {
	var last Peer
	var lastErr error
	for {
		ps, err := b.Peers(ctx)
		if err == nil {
			last = ps[peer]
			if cond(last) {
				return last, nil
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			err := fmt.Errorf("cluster: %s: peer %s: last state %q verdict %q: %w", b.Name, peer, last.State, last.Verdict, ctx.Err())
			if lastErr != nil {
				err = fmt.Errorf("%w (last error: %w)", err, lastErr)
			}
			return last, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Tamper changes a measured component (the kernel) of b's image. It takes
// effect at b's next start, as an on-disk change would on a real box.
func (b *Box) Tamper() error {
	return os.WriteFile(b.kernel, []byte("wardgate appliance kernel 6.12.9 with a rootkit\n"), 0o644)
}

// LAN is the base URL of b's LAN record API.
func (b *Box) LAN() string {
	scheme := "http://"
	if b.lanTLS != nil {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(b.Host, strconv.Itoa(b.LANPort))
}

// MLLP is b's HL7 MLLP intake address.
func (b *Box) MLLP() string { return net.JoinHostPort(b.Host, strconv.Itoa(b.MLLPPort)) }

// Close stops every box and tears down namespaces and the sink.
func (c *Cluster) Close() {
	ctx := context.Background()
	for _, b := range c.boxes {
		b.Stop(ctx)
	}
	if c.Sink != nil {
		c.Sink.Close()
	}
	if c.net != nil {
		c.net.close()
	}
}

// command runs name inside b's namespace (tun mode) or directly.
func (b *Box) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if b.NetNS != "" {
		return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", b.NetNS, name}, args...)...)
	}
	return exec.CommandContext(ctx, name, args...)
}

// Exec runs a command in b's network (its namespace in tun mode).
func (b *Box) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	return b.command(ctx, name, args...).CombinedOutput()
}

// CPU is the CPU time (user + system) b's wardgated has used so far, read
// from /proc: the benchmarks' measure of what one box costs.
func (b *Box) CPU() (time.Duration, error) {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0, fmt.Errorf("cluster: %s is not running", b.Name)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", b.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("cluster: %s: %w", b.Name, err)
	}
	// The command name (field 2) may hold spaces; the fields after it don't.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("cluster: %s: short /proc stat", b.Name)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cluster: %s: unreadable /proc stat", b.Name)
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}
