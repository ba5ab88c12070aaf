package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
)

var binPath string

// TestMain builds wardgated once; the tests drive it as a user would.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run()) // fuzz workers run only the fuzz target, which needs no binary
	}
	dir, err := os.MkdirTemp("", "wardgated-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "wardgated")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building wardgated: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeBase finds a base port with the n boxes' ports (base..base+10n) free.
func freeBase(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + (os.Getpid()*7+try*131)%30000/10*10
		ok := true
		var lns []net.Listener
		for p := base; p < base+10*n && ok; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func wardgated(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running wardgated: %v", err)
	}
	return o.String(), e.String(), code
}

func consortium(t testing.TB, boxes, tamper string) (dir string, base int) {
	t.Helper()
	dir = t.TempDir()
	base = freeBase(t, len(strings.Split(boxes, ",")))
	// Keep unix socket paths short (108-byte limit) even under long test names.
	if len(dir) > 60 {
		short, err := os.MkdirTemp("", "wg")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(short) })
		dir = short
	}
	out, errs, code := wardgated(t, "--dev-consortium", dir, "--boxes", boxes, "--tamper", tamper,
		"--base-port", strconv.Itoa(base), "--interval", "1s", "--verdict-lifetime", "3s")
	if code != 0 {
		t.Fatalf("--dev-consortium exited %d:\n%s%s", code, out, errs)
	}
	return dir, base
}

func TestCheckConfig(t *testing.T) {
	dir, _ := consortium(t, "a,b", "")
	good := filepath.Join(dir, "a", "wardgate.yaml")
	out, errs, code := wardgated(t, "--config", good, "--check-config")
	if code != 0 || !strings.Contains(out, "ok (box a, 1 peers)") {
		t.Fatalf("good config: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}

	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(orig), "10.77.0.2/32", "10.77.0.300/32", 1)
	bad = strings.Replace(bad, "    mode: userspace\n", "    mode: userspace\n    speed: fast\n", 1)
	bad = strings.Replace(bad, "interval: 1s", "interval: soon", 1)
	badPath := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badPath, []byte(bad), 0o600)
	_, errs, code = wardgated(t, "--config", badPath, "--check-config")
	if code != 1 {
		t.Fatalf("bad config: exit %d, want 1\n%s", code, errs)
	}
	for _, want := range []string{
		`peers[0].allowed_ips[0]: "10.77.0.300/32" is not a CIDR; write e.g. 10.9.0.2/32`,
		`tunnel.speed (line`, `unknown key "speed"`,
		`attestation.interval: "soon" is not a duration`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("--check-config output lacks %q:\n%s", want, errs)
		}
	}

	// A file the config names is missing.
	os.Remove(filepath.Join(dir, "manifests", "firmware-1.0.sig"))
	_, errs, code = wardgated(t, "--config", good, "--check-config")
	if code != 1 || !strings.Contains(errs, "attestation.manifests[0].signature: "+filepath.Join(dir, "manifests", "firmware-1.0.sig")+": no such file or directory") {
		t.Errorf("missing signature: exit %d\n%s", code, errs)
	}
	// The daemon itself refuses to start on the same errors.
	_, errs, code = wardgated(t, "--config", badPath)
	if code != 1 || !strings.Contains(errs, "not starting") || !strings.Contains(errs, "peers[0].allowed_ips[0]") {
		t.Errorf("daemon on bad config: exit %d\n%s", code, errs)
	}
}

// box is one running wardgated process.
type box struct {
	name string
	cfg  string
	cmd  *exec.Cmd
	log  *syncBuf
	done chan error
	ctl  *control.Client
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startBox(t testing.TB, dir, name string) *box {
	t.Helper()
	b := &box{name: name, cfg: filepath.Join(dir, name, "wardgate.yaml"), log: &syncBuf{}, done: make(chan error, 1)}
	b.cmd = exec.Command(binPath, "--config", b.cfg)
	b.cmd.Stderr = b.log
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	b.ctl = control.NewClient(filepath.Join(dir, name, "control.sock"))
	t.Cleanup(func() {
		b.stop(t)
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, tail(b.log.String(), 40))
		}
	})
	return b
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop sends SIGTERM and returns the exit error (nil: exit 0).
func (b *box) stop(t testing.TB) error {
	if b.cmd.ProcessState != nil {
		return nil
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.done:
		b.done <- err
		return err
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
		t.Errorf("%s did not stop on SIGTERM", b.name)
		return errors.New("killed")
	}
}

// eventually polls cond until it holds, failing after a generous deadline
// (this is a liveness check, not a timing assertion).
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, s := cond()
		if ok {
			return
		}
		last = s
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: never happened; last: %s", what, last)
}

func (b *box) waitReady(t testing.TB) control.StatusInfo {
	t.Helper()
	var st control.StatusInfo
	eventually(t, b.name+" ready", func() (bool, string) {
		select {
		case err := <-b.done:
			b.done <- err
			t.Fatalf("%s exited while starting: %v\n%s", b.name, err, tail(b.log.String(), 30))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := b.ctl.Status(ctx)
		st = s
		return err == nil && s.Ready, fmt.Sprint(err)
	})
	// The line is written before status reports ready; it reaches our
	// buffer through exec's pipe copier shortly after.
	eventually(t, b.name+" logs msg=ready", func() (bool, string) {
		return strings.Contains(b.log.String(), "msg=ready"), "no msg=ready line"
	})
	return st
}

func (b *box) peer(t testing.TB, name string) control.PeerInfo {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps, err := b.ctl.Peers(ctx)
	if err != nil {
		return control.PeerInfo{State: control.PeerState("error: " + err.Error())}
	}
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s has no peer %s", b.name, name)
	return control.PeerInfo{}
}

func hasReason(rs []control.Reason, code string) bool {
	for _, r := range rs {
		if r.Code == code {
			return true
		}
	}
	return false
}

// sink is a hospital system on the LAN that receives records.
func sink(t testing.TB, addr string) chan []byte {
	got := make(chan []byte, 16)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return got
}

// sendRecord posts a record to a box's mTLS intake as the EHR, with the
// client certificate --dev-consortium wrote under dir.
func sendRecord(dir, lan, to string, body []byte) (int, string, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "api", "ehr.pem"), filepath.Join(dir, "api", "ehr-key.pem"))
	if err != nil {
		return 0, "", err
	}
	ca, err := os.ReadFile(filepath.Join(dir, "api", "ca.pem"))
	if err != nil {
		return 0, "", err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, "https://"+lan+"/v1/records", bytes.NewReader(body))
	req.Header.Set("To", to)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestConsortium runs hospitals A, B and C (C boots an unapproved kernel),
// each its own wardgated with its own simulated TPM and a userspace tunnel
// on loopback: A and B admit each other and carry a record; C is refused
// with its reason in signed reports; B tampered and restarted is revoked.
func TestConsortium(t *testing.T) {
	dir, base := consortium(t, "a,b,c", "c")
	port := func(i, off int) string { return "127.0.0.1:" + strconv.Itoa(base+10*i+off) }
	recvB := sink(t, port(1, 5))

	a := startBox(t, dir, "a")
	b := startBox(t, dir, "b")
	c := startBox(t, dir, "c")
	stA, stB := a.waitReady(t), b.waitReady(t)
	c.waitReady(t)

	// The EK each box reports is the one the generator enrolled.
	cfgA, err := config.Load(a.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pb, _ := cfgA.Peer("b"); pb.EK != stB.EKFingerprint {
		t.Errorf("b's EK %s, enrolled on a as %s", stB.EKFingerprint, pb.EK)
	}
	if !stA.SelfCheck.Pass {
		t.Errorf("a's self-check failed: %+v", stA.SelfCheck)
	}

	eventually(t, "a admits b and b admits a", func() (bool, string) {
		pa, pb := a.peer(t, "b"), b.peer(t, "a")
		return pa.State == control.PeerAdmitted && pb.State == control.PeerAdmitted, string(pa.State + "/" + pb.State)
	})
	eventually(t, "a and b refuse c with its reason", func() (bool, string) {
		pa, pb := a.peer(t, "c"), b.peer(t, "c")
		ok := pa.Verdict == "fail" && pb.Verdict == "fail" && hasReason(pa.Reasons, attest.ReasonComponentUnapproved) && hasReason(pb.Reasons, attest.ReasonComponentUnapproved)
		return ok, fmt.Sprintf("%+v", pa)
	})
	if st := a.peer(t, "c").State; st == control.PeerAdmitted {
		t.Errorf("c admitted on a")
	}

	// `wardgate attest PEER` appraises now.
	if r, err := a.ctl.Attest(context.Background(), "c"); err != nil || r.Verdict != "fail" || r.Admitted || !hasReason(r.Reasons, attest.ReasonComponentUnapproved) {
		t.Errorf("attest c: %+v %v", r, err)
	}
	if r, err := a.ctl.Attest(context.Background(), "b"); err != nil || r.Verdict != "pass" || !r.Admitted || r.ReportID == "" {
		t.Errorf("attest b: %+v %v", r, err)
	}
	if _, err := a.ctl.Attest(context.Background(), "nobody"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("attest unknown peer: %v", err)
	}
	// `wardgate firmware show`: a's own measurements all match the manifest.
	fw, err := a.ctl.Firmware(context.Background())
	if err != nil || !fw.Pass || len(fw.Components) != 3 || len(fw.Manifests) != 1 {
		t.Errorf("firmware: %+v %v", fw, err)
	}
	for _, c := range fw.Components {
		if !c.Matched {
			t.Errorf("a's component %s not matched", c.Name)
		}
	}

	// A record goes from A's LAN through the tunnel to B's LAN.
	rec := []byte(`{"resourceType":"Patient","id":"test-1"}`)
	eventually(t, "record a->b delivered", func() (bool, string) {
		code, body, err := sendRecord(dir, port(0, 2), "b", rec)
		return err == nil && code == 200, fmt.Sprint(code, body, err)
	})
	select {
	case got := <-recvB:
		if !bytes.Equal(got, rec) {
			t.Errorf("b delivered %q, want %q", got, rec)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b's LAN never received the record")
	}
	if code, body, _ := sendRecord(dir, port(0, 2), "c", rec); code == 200 {
		t.Errorf("record to refused c accepted: %s", body)
	}
	// Without a client certificate A's intake does not take the record,
	// over TLS or plain HTTP, and it keeps serving the EHR that has one.
	anyone := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, url := range []string{"https://" + port(0, 2) + "/v1/records", "http://" + port(0, 2) + "/v1/records"} {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"resourceType":"Patient","id":"nocert"}`)))
		req.Header.Set("To", "b")
		if resp, err := anyone.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Errorf("%s without a client certificate: 200", url)
			}
		}
	}
	if code, body, err := sendRecord(dir, port(0, 2), "b", []byte(`{"resourceType":"Patient","id":"after-nocert"}`)); code != 200 {
		t.Errorf("the EHR after refused clients: %d %s %v", code, body, err)
	}

	// A's reports on C are signed with A's record key and carry the reason.
	ctx := context.Background()
	reps, err := a.ctl.Reports(ctx, control.ReportFilter{Peer: "c", Verdict: "fail"})
	if err != nil || len(reps) == 0 {
		t.Fatalf("a's failing reports on c: %v %v", reps, err)
	}
	raw, err := a.ctl.Report(ctx, reps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	la, err := a.ctl.LedgerStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keyA, _ := hex.DecodeString(la.RecordKey)
	r, err := attest.VerifyReport(raw, keyA)
	if err != nil {
		t.Fatalf("a's report does not verify with a's key: %v", err)
	}
	if r.Pass || r.Peer != "c" || r.Verifier != "a" {
		t.Errorf("report: pass=%v peer=%s verifier=%s", r.Pass, r.Peer, r.Verifier)
	}
	lb, _ := b.ctl.LedgerStatus(ctx)
	keyB, _ := hex.DecodeString(lb.RecordKey)
	if _, err := attest.VerifyReport(raw, keyB); err == nil {
		t.Error("a's report verifies with b's key")
	}
	if la.Size == 0 {
		t.Error("a's ledger is empty after reports and a record")
	}

	// The security team reads the same reports over mutual TLS; without a
	// client certificate the API refuses.
	apiURL := "https://" + port(0, 6) + "/v1/reports/" + reps[0].ID
	caPEM, _ := os.ReadFile(filepath.Join(dir, "api", "ca.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	team, err := tls.LoadX509KeyPair(filepath.Join(dir, "api", "client.pem"), filepath.Join(dir, "api", "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{team}}}}
	resp, err := withCert.Get(apiURL)
	if err != nil {
		t.Fatalf("report API with the team's certificate: %v", err)
	}
	apiBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(bytes.TrimSpace(apiBody), bytes.TrimSpace(raw)) {
		t.Errorf("report API: %s, body equal to control socket's: %v", resp.Status, bytes.Equal(bytes.TrimSpace(apiBody), bytes.TrimSpace(raw)))
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := noCert.Get(apiURL); err == nil {
		resp.Body.Close()
		t.Errorf("report API served a client without a certificate: %s", resp.Status)
	}

	// Tamper with B's kernel and restart B: A revokes it, and records stop.
	if err := b.stop(t); err != nil {
		t.Fatalf("b did not exit cleanly on SIGTERM: %v", err)
	}
	kernel := filepath.Join(dir, "b", "image", "kernel.bin")
	if err := os.WriteFile(kernel, []byte("rootkit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b2 := startBox(t, dir, "b")
	st := b2.waitReady(t)
	if st.SelfCheck.Pass || !hasReason(st.SelfCheck.Reasons, "keys-sealed-to-other-state") {
		t.Errorf("tampered b's self-check: %+v", st.SelfCheck)
	}
	eventually(t, "a revokes tampered b", func() (bool, string) {
		p := a.peer(t, "b")
		return p.State == control.PeerRevoked && p.Verdict == control.VerdictFail && hasReason(p.Reasons, attest.ReasonComponentUnapproved), fmt.Sprintf("%+v", p)
	})
	if code, body, _ := sendRecord(dir, port(0, 2), "b", []byte("after tamper")); code == 200 {
		t.Errorf("record to revoked b accepted: %s", body)
	}
	// The quarantined box relays nothing: its LAN intake is closed.
	if _, _, err := sendRecord(dir, port(1, 2), "a", []byte("from quarantine")); err == nil {
		t.Error("quarantined b accepted a record on its LAN intake")
	}
	revs, _ := a.ctl.Reports(ctx, control.ReportFilter{Peer: "b", Verdict: "fail"})
	if len(revs) == 0 {
		t.Error("no failing report on tampered b")
	}

	for _, x := range []*box{a, b2, c} {
		if err := x.stop(t); err != nil {
			t.Errorf("%s: exit on SIGTERM: %v", x.name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, x.name, "control.sock")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left its control socket behind", x.name)
		}
	}
}

// TestNoHalfStart: a box whose metrics port (bound last, after the tunnel,
// the ledger, the chain and the control socket) is taken refuses to start,
// exits 1 naming the key, and leaves no control socket behind.
func TestNoHalfStart(t *testing.T) {
	dir, base := consortium(t, "a,b", "")
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+3))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, errs, code := wardgated(t, "--config", filepath.Join(dir, "a", "wardgate.yaml"))
	if code != 1 || !strings.Contains(errs, "metrics.listen") {
		t.Fatalf("exit %d, want 1 naming metrics.listen:\n%s", code, tail(errs, 10))
	}
	if strings.Contains(errs, "msg=ready") {
		t.Error("logged ready although the start failed")
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "control.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Error("control socket left behind by a failed start")
	}
}

// Intake a LAN host could use without a certificate is refused by
// --check-config (and so at start), naming the key and the fix; with
// records.insecure_lan it passes with a loud WARNING.
func TestCheckConfigIntakeAuth(t *testing.T) {
	dir, base := consortium(t, "a,b", "")
	orig, err := os.ReadFile(filepath.Join(dir, "a", "wardgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(orig, &doc); err != nil {
		t.Fatal(err)
	}
	rec := doc["records"].(map[string]any)
	delete(rec, "tls_cert")
	delete(rec, "tls_key")
	delete(rec, "client_ca")
	rec["lan_listen"] = "0.0.0.0:7480"
	write := func(name string) string {
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, errs, code := wardgated(t, "--config", write("open.yaml"), "--check-config")
	if code != 1 || !strings.Contains(errs, `records.lan_listen: "0.0.0.0:7480" is reachable from the LAN without client authentication`) {
		t.Fatalf("unauthenticated LAN intake: exit %d\n%s", code, errs)
	}
	rec["insecure_lan"] = true
	out, errs, code := wardgated(t, "--config", write("insecure.yaml"), "--check-config")
	if code != 0 || !strings.Contains(errs, "WARNING: records.insecure_lan: true") {
		t.Fatalf("insecure_lan: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	// The daemon says so at every start.
	rec["lan_listen"] = "0.0.0.0:" + strconv.Itoa(base+2)
	write(filepath.Join("a", "wardgate.yaml"))
	a := startBox(t, dir, "a")
	a.waitReady(t)
	if !strings.Contains(a.log.String(), "INSECURE: records.insecure_lan: true") {
		t.Fatalf("start log does not warn about insecure_lan:\n%s", tail(a.log.String(), 20))
	}
}
