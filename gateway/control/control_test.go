package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testBackend is a Backend with canned data: it is the consumer of the
// interface that is under test here (server and client), not a fake of a
// real part.
type testBackend struct {
	mu      sync.Mutex
	reports []ReportSummary
	attests []string
}

func newTestBackend() *testBackend {
	now := time.Now().UTC().Truncate(time.Second)
	b := &testBackend{}
	for i := range 30 {
		v, peer := VerdictPass, "hospital-b"
		if i%3 == 0 {
			v, peer = VerdictFail, "hospital-c"
		}
		b.reports = append(b.reports, ReportSummary{
			ID: fmt.Sprintf("r%02d", i), Time: now.Add(-time.Duration(i) * time.Hour),
			Verifier: "hospital-a", Peer: peer, Verdict: v, Expiry: now.Add(time.Minute),
		})
	}
	return b
}

func (b *testBackend) Status(ctx context.Context) (StatusInfo, error) {
	return StatusInfo{Box: "hospital-a", Ready: true, TPMKind: "simulator", EKFingerprint: "sha256:ab", LogSize: 7}, nil
}
func (b *testBackend) Peers(ctx context.Context) ([]PeerInfo, error) {
	return []PeerInfo{{Name: "hospital-b", State: PeerAdmitted, Verdict: VerdictPass, RxBytes: 10}}, nil
}
func (b *testBackend) Attest(ctx context.Context, peer string) (AttestResult, error) {
	b.mu.Lock()
	b.attests = append(b.attests, peer)
	b.mu.Unlock()
	if peer != "hospital-b" && peer != "hospital-c" {
		return AttestResult{}, fmt.Errorf("peer %q is not configured: %w", peer, ErrNotFound)
	}
	return AttestResult{Peer: peer, Verdict: VerdictFail, Reasons: []Reason{{Code: "component_unknown", Message: "x"}}}, nil
}
func (b *testBackend) Reports(ctx context.Context, f ReportFilter) ([]ReportSummary, error) {
	return ApplyFilter(b.reports, f), nil
}
func (b *testBackend) Report(ctx context.Context, id string) ([]byte, error) {
	for _, r := range b.reports {
		if r.ID == id {
			return []byte(`{"id": "` + id + `",   "signature": "c2ln"}`), nil
		}
	}
	return nil, fmt.Errorf("report %s: %w", id, ErrNotFound)
}
func (b *testBackend) LedgerStatus(ctx context.Context) (LedgerInfo, error) {
	return LedgerInfo{Size: 7, Backlog: 7}, nil
}
func (b *testBackend) Firmware(ctx context.Context) (FirmwareInfo, error) {
	return FirmwareInfo{}, ErrNotReady
}
func (b *testBackend) Checkpoints(ctx context.Context) ([]CheckpointInfo, error) { return nil, nil }

// startServer serves b on a socket in a temp dir until the test ends.
func startServer(t *testing.T, b Backend) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	s, err := NewServer(ServerConfig{Path: path, Backend: b, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, path
}

func TestSocketModeAndGroup(t *testing.T) {
	_, path := startServer(t, newTestBackend())
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("%s is %v, want a socket", path, fi.Mode().Type())
	}
	if got := fi.Mode().Perm(); got != 0o660 {
		t.Fatalf("socket mode %o, want 660", got)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != os.Geteuid() {
		t.Errorf("socket uid %d, want the daemon's uid %d", st.Uid, os.Geteuid())
	}
	// With the wardgate group present the socket carries it; without it
	// (most dev machines) it keeps the daemon's primary group.
	wantGid := os.Getegid()
	if g, err := user.LookupGroup(DefaultGroup); err == nil && os.Geteuid() == 0 {
		wantGid, _ = strconv.Atoi(g.Gid)
	}
	if int(st.Gid) != wantGid {
		t.Errorf("socket gid %d, want %d", st.Gid, wantGid)
	}
}

func TestSocketGroupApplied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root to chown the socket to another group (CI runs as root)")
	}
	// Use a group that exists everywhere and is not root's primary group.
	g, err := user.LookupGroup("daemon")
	if err != nil {
		t.Skip("SKIPPED: no 'daemon' group on this machine")
	}
	path := filepath.Join(t.TempDir(), "c.sock")
	s, err := NewServer(ServerConfig{Path: path, Group: "daemon", Backend: newTestBackend()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, _ := os.Stat(path)
	if gid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)); gid != g.Gid {
		t.Fatalf("socket gid %s, want daemon's %s", gid, g.Gid)
	}
}

func TestStaleSocketReplacedLiveOneRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	// A crashed daemon leaves its socket file behind.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	s, err := NewServer(ServerConfig{Path: path, Backend: newTestBackend()})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	// A second daemon must not steal a live socket.
	if _, err := NewServer(ServerConfig{Path: path, Backend: newTestBackend()}); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Fatalf("second server on a live socket: %v, want refusal", err)
	}
	if _, err := NewClient(path).Status(context.Background()); err != nil {
		t.Fatalf("first server broken by the refused second one: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket not removed on shutdown: %v", err)
	}

	// A regular file at the path is never deleted.
	reg := filepath.Join(dir, "notasocket")
	os.WriteFile(reg, []byte("keep me"), 0o600)
	if _, err := NewServer(ServerConfig{Path: reg, Backend: newTestBackend()}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("server on a regular file: %v, want refusal", err)
	}
	if b, _ := os.ReadFile(reg); string(b) != "keep me" {
		t.Fatal("regular file was clobbered")
	}
}

func TestClientRoundTrip(t *testing.T) {
	b := newTestBackend()
	_, path := startServer(t, b)
	c := NewClient(path)
	defer c.Close()
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.Box != "hospital-a" || st.LogSize != 7 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	ps, err := c.Peers(ctx)
	if err != nil || len(ps) != 1 || ps[0].RxBytes != 10 {
		t.Fatalf("Peers = %+v, %v", ps, err)
	}
	ar, err := c.Attest(ctx, "hospital-c")
	if err != nil || ar.Verdict != VerdictFail || ar.Reasons[0].Code != "component_unknown" {
		t.Fatalf("Attest = %+v, %v", ar, err)
	}
	if _, err := c.Attest(ctx, "nobody"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nobody" is not configured`) {
		t.Fatalf("Attest(nobody) = %v, want not found naming the peer", err)
	}
	if _, err := c.Attest(ctx, "../status"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("Attest(../status) = %v, want bad request", err)
	}
	if len(b.attests) != 2 {
		t.Fatalf("backend saw attests %v, want hospital-c and nobody only", b.attests)
	}

	// Filters and pagination reach the backend intact.
	rs, err := c.Reports(ctx, ReportFilter{Verdict: VerdictFail})
	if err != nil || len(rs) != 10 {
		t.Fatalf("fail reports: %d, %v; want 10", len(rs), err)
	}
	for _, r := range rs {
		if r.Verdict != VerdictFail || r.Peer != "hospital-c" {
			t.Fatalf("filter leaked %+v", r)
		}
	}
	rs, _ = c.Reports(ctx, ReportFilter{Since: time.Now().Add(-5*time.Hour - time.Minute)})
	if len(rs) != 6 {
		t.Fatalf("reports in the last 5h: %d, want 6", len(rs))
	}
	p1, _ := c.Reports(ctx, ReportFilter{Peer: "hospital-b", Limit: 4})
	p2, _ := c.Reports(ctx, ReportFilter{Peer: "hospital-b", Limit: 4, Offset: 4})
	if len(p1) != 4 || len(p2) != 4 || p1[3].ID == p2[0].ID || p2[0].ID != "r07" {
		t.Fatalf("pages %v / %v", p1, p2)
	}
	// Keyset paging: after r07, the next hospital-b reports are r08, r10.
	p3, err := c.Reports(ctx, ReportFilter{Peer: "hospital-b", Limit: 2, After: "r07"})
	if err != nil || len(p3) != 2 || p3[0].ID != "r08" || p3[1].ID != "r10" {
		t.Fatalf("after r07: %v %v", p3, err)
	}
	if p4, _ := c.Reports(ctx, ReportFilter{After: "gone"}); len(p4) != 0 {
		t.Fatalf("after an unknown id: %v, want nothing", p4)
	}
	if _, err := c.Reports(ctx, ReportFilter{Verdict: "maybe"}); err == nil || !strings.Contains(err.Error(), "verdict") {
		t.Fatalf("bad verdict filter: %v", err)
	}

	doc, err := c.Report(ctx, "r03")
	if err != nil || string(doc) != `{"id": "r03",   "signature": "c2ln"}` {
		t.Fatalf("Report = %q, %v; want the signed bytes unchanged", doc, err)
	}
	if _, err := c.Report(ctx, "zz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Report(zz) = %v", err)
	}
	if _, err := c.Firmware(ctx); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Firmware = %v, want not ready", err)
	}
	cps, err := c.Checkpoints(ctx)
	if err != nil || cps == nil || len(cps) != 0 {
		t.Fatalf("Checkpoints = %#v, %v; want empty list", cps, err)
	}
}

func TestClientUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.sock")
	_, err := NewClient(path).Status(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	for _, want := range []string{path, "is the daemon running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseReportFilter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := ReportFilter{Peer: "b", Verdict: VerdictPass, Since: now.Add(-time.Hour), Limit: 5, Offset: 10, After: "r1"}
	got, err := ParseReportFilter(f.Query(), now)
	if err != nil || got != f {
		t.Fatalf("round trip %+v -> %+v, %v", f, got, err)
	}
	got, _ = ParseReportFilter(map[string][]string{"since": {"7d"}}, now)
	if !got.Since.Equal(now.Add(-7*24*time.Hour)) || got.Limit != DefaultLimit {
		t.Fatalf("since 7d = %+v", got)
	}
	for q, field := range map[string]string{"limit=5000": "limit", "offset=-1": "offset", "since=soon": "since", "limit=x": "limit", "verdict=ok": "verdict", "since=-1h": "since", "after=a/b": "after"} {
		k, v, _ := strings.Cut(q, "=")
		if _, err := ParseReportFilter(map[string][]string{k: {v}}, now); err == nil || !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err %v, want bad request naming %s", q, err, field)
		}
	}
}

func FuzzParseReportFilter(f *testing.F) {
	for _, s := range []string{"peer=a&verdict=pass&since=24h&limit=10&offset=3", "since=2026-01-01T00:00:00Z", "since=99999999d", "limit=-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err != nil {
			return
		}
		flt, err := ParseReportFilter(q, time.Now())
		if err != nil {
			return
		}
		if flt.Limit < 1 || flt.Limit > MaxLimit || flt.Offset < 0 {
			t.Fatalf("accepted out-of-range filter %+v", flt)
		}
	})
}

func parseQuery(s string) (map[string][]string, error) {
	return url.ParseQuery(s)
}
