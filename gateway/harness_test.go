package gateway_test

// The in-process harness: every box is a gateway.Start in this test
// process, on its own swtpm process, with a userspace wireguard-go tunnel
// on loopback and a journal-only ledger (chain mode none).
//
// Why swtpm for every box, not the in-process simulator: the go-tpm-tools
// simulator may be open only once per process, and a test binary runs
// several tests with two boxes each. Why not a wardgated child for the
// peer: both boxes then measure the same binary (this test binary), so the
// manifest the dev-consortium generator signs approves both, and a test
// can watch and drive both sides through gateway's own API.
//
// The configs, dev CA, vendor key, signed manifest and API certificates
// come from devconsortium.Main, as for the integration tests. It learns
// each box's measurements by running its own executable with
// --config FILE --identity; TestMain answers that, so this test binary
// plays wardgated for it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/gateway"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/devconsortium"
	"github.com/wardgate/wardgate/internal/testutil"
)

func TestMain(m *testing.M) {
	if slices.Contains(os.Args[1:], "--identity") {
		os.Exit(identityMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// identityMain is `wardgated --config FILE --identity`, for the
// dev-consortium generator's child processes.
func identityMain(args []string) int {
	i := slices.Index(args, "--config")
	if i < 0 || i+1 >= len(args) {
		fmt.Fprintln(os.Stderr, "identity helper: --config FILE missing")
		return 2
	}
	cfg, err := config.LoadPartial(args[i+1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	id, err := gateway.PrintIdentity(context.Background(), cfg, testutil.QuietLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(id); err != nil {
		return 1
	}
	return 0
}

// consortium is a generated dev consortium whose boxes run in this process.
type consortium struct {
	dir   string
	boxes map[string]*box
}

// box is one hospital's gateway, started and stopped by the test.
type box struct {
	name  string
	path  string       // its wardgate.yaml
	lan   string       // its LAN record intake, host:port (mTLS)
	ehr   *http.Client // the hospital system, with the dev EHR certificate
	sink  chan []byte
	log   *syncBuf
	state string
	g     *gateway.Gateway
}

// newConsortium writes a consortium of boxes (tampered ones boot a kernel
// the manifest does not approve), moves every box onto its own swtpm and a
// journal-only ledger, and enrolls the swtpm EKs. Nothing runs yet.
func newConsortium(t *testing.T, boxes []string, tampered ...string) *consortium {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatal("swtpm is not installed; `make deps` installs it (Debian package swtpm)")
	}
	// Unix socket paths must stay under 108 bytes, whatever the test name.
	dir, err := os.MkdirTemp("", "gw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	base := freeRun(t, len(boxes))
	args := []string{"--dev-consortium", dir, "--boxes", strings.Join(boxes, ","), "--base-port", strconv.Itoa(base),
		"--interval", "1s", "--verdict-lifetime", "3s"}
	if len(tampered) > 0 {
		args = append(args, "--tamper", strings.Join(tampered, ","))
	}
	var out bytes.Buffer
	if code := devconsortium.Main(args, &out, &out); code != 0 {
		t.Fatalf("devconsortium.Main exited %d:\n%s", code, out.String())
	}
	c := &consortium{dir: dir, boxes: map[string]*box{}}
	eks := map[string]string{}
	for i, name := range boxes {
		b := &box{name: name, path: filepath.Join(dir, name, "wardgate.yaml"), log: &syncBuf{}}
		eks[name] = b.useSWTPM(t)
		b.lan = "127.0.0.1:" + strconv.Itoa(base+10*i+2)
		b.ehr = ehrClient(t, dir)
		b.sink = startSink(t, "127.0.0.1:"+strconv.Itoa(base+10*i+5))
		c.boxes[name] = b
	}
	for _, b := range c.boxes {
		b.editConfig(t, func(cfg *config.Config) {
			for i := range cfg.Peers {
				cfg.Peers[i].EK = eks[cfg.Peers[i].Name]
			}
		})
	}
	return c
}

// useSWTPM starts a swtpm for b, points b's config at it with a
// journal-only ledger, and returns the EK the others must enroll.
func (b *box) useSWTPM(t *testing.T) string {
	t.Helper()
	addr, ctrl := startSWTPM(t, filepath.Join(filepath.Dir(b.path), "swtpm"))
	b.editConfig(t, func(cfg *config.Config) {
		cfg.TPM = config.TPM{Source: "swtpm", Address: addr, CtrlAddress: ctrl, DevCA: cfg.TPM.DevCA}
		cfg.Chain = config.Chain{Mode: "none", CheckpointInterval: cfg.Chain.CheckpointInterval}
		b.state = cfg.StateDir
	})
	// The generator's identity run left a simulator's AK and seed here.
	if err := os.RemoveAll(b.state); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadPartial(b.path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := gateway.PrintIdentity(context.Background(), cfg, testutil.QuietLogger())
	if err != nil {
		t.Fatalf("identity of %s on swtpm: %v", b.name, err)
	}
	return id.EK
}

// editConfig rewrites b's wardgate.yaml through f, as an engineer would.
func (b *box) editConfig(t *testing.T, f func(*config.Config)) {
	t.Helper()
	cfg, err := config.LoadPartial(b.path)
	if err != nil {
		t.Fatal(err)
	}
	f(cfg)
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// startSWTPM runs a swtpm on two free loopback ports and returns its
// command and control addresses. It is killed when the test ends, after
// the gateways registered later have closed.
func startSWTPM(t *testing.T, state string) (addr, ctrl string) {
	t.Helper()
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	port, cport := testutil.FreePort(t), testutil.FreePort(t)
	cmd := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--server", "type=tcp,port="+strconv.Itoa(port)+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+strconv.Itoa(cport)+",bindaddr=127.0.0.1",
		"--flags", "not-need-init,startup-clear")
	var errb syncBuf
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, ctrl = "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(cport)
	testutil.WaitFor(t, "swtpm listening on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr, ctrl
}

// start boots b in this process: a daemon start is one boot of its swtpm.
func (b *box) start(t *testing.T) {
	t.Helper()
	if err := b.tryStart(t); err != nil {
		t.Fatalf("starting %s: %v\n%s", b.name, err, b.log.tail(30))
	}
}

func (b *box) tryStart(t *testing.T) error {
	t.Helper()
	cfg, err := config.Load(b.path)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := gateway.Start(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	b.g = g
	// Close before the swtpm goes (cleanups run last-in first-out); the
	// log is kept in a buffer because wireguard-go may still log while
	// closing, when t.Log would panic.
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("log of %s:\n%s", b.name, b.log.tail(40))
		}
	})
	return nil
}

// stop closes b, as SIGTERM would.
func (b *box) stop() {
	if b.g != nil {
		b.g.Close()
		b.g = nil
	}
}

// setKernel writes b's kernel image: the approved one, or a rootkit. It
// takes effect at b's next start, as on a real box.
func (b *box) setKernel(t *testing.T, approved bool) {
	t.Helper()
	kernel := []byte("wardgate appliance kernel 6.12.9 (approved)\n") // what devconsortium approves
	if !approved {
		kernel = []byte("wardgate appliance kernel 6.12.9 with a rootkit\n")
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(b.path), "image", "kernel.bin"), kernel, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (b *box) status(t *testing.T) control.StatusInfo {
	t.Helper()
	st, err := b.g.Status(context.Background())
	if err != nil {
		t.Fatalf("%s status: %v", b.name, err)
	}
	return st
}

func (b *box) recordKey(t *testing.T) string {
	t.Helper()
	l, err := b.g.LedgerStatus(context.Background())
	if err != nil {
		t.Fatalf("%s ledger status: %v", b.name, err)
	}
	return l.RecordKey
}

// peer is what `wardgate peers` shows on b for name.
func (b *box) peer(t *testing.T, name string) control.PeerInfo {
	t.Helper()
	ps, err := b.g.Peers(context.Background())
	if err != nil {
		t.Fatalf("%s peers: %v", b.name, err)
	}
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s has no peer %s", b.name, name)
	return control.PeerInfo{}
}

// waitPeer waits until b's view of name satisfies cond, and returns it.
func (b *box) waitPeer(t *testing.T, name, what string, cond func(control.PeerInfo) bool) control.PeerInfo {
	t.Helper()
	var p control.PeerInfo
	testutil.WaitFor(t, b.name+": peer "+name+" "+what, func() bool {
		p = b.peer(t, name)
		return cond(p)
	})
	return p
}

// send posts one record to b's LAN intake for peer to, as a hospital
// system does; it returns the HTTP status and the refusal code, if any.
func (b *box) send(to string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, "https://"+b.lan+"/v1/records", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("To", to)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := b.ehr.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var refusal struct{ Code string }
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&refusal)
	return resp.StatusCode, refusal.Code, nil
}

// ehrClient is a hospital system's client for the boxes' mTLS intake,
// with the EHR certificate --dev-consortium wrote under dir.
func ehrClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "api", "ehr.pem"), filepath.Join(dir, "api", "ehr-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "api", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12}}}
}

func hasReason(rs []control.Reason, code string) bool {
	return slices.ContainsFunc(rs, func(r control.Reason) bool { return r.Code == code })
}

// startSink is a hospital system on the LAN that takes the records a box
// delivers.
func startSink(t *testing.T, addr string) chan []byte {
	t.Helper()
	got := make(chan []byte, 64)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case got <- b:
		default:
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return got
}

// freeRun finds 10n free loopback ports in a row (TCP and UDP), as the
// dev-consortium generator lays box i out on base+10i.. base+10i+9.
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		var rb [2]byte
		rand.Read(rb[:])
		// Below the ephemeral range, where FreePort's ports come from.
		base := 20000 + (int(rb[0])<<8|int(rb[1]))%1200*10
		if portsFree(base, 10*n) {
			return base
		}
	}
	t.Fatal("no run of free loopback ports")
	return 0
}

func portsFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		a := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp", a)
		if err != nil {
			return false
		}
		l.Close()
		u, err := net.ListenPacket("udp", a)
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(s.b.String(), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// dialable reports whether addr accepts TCP connections.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// len is how many bytes were logged so far.
func (s *syncBuf) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// since is what was logged after the first from bytes.
func (s *syncBuf) since(from int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b.Bytes()[from:])
}
