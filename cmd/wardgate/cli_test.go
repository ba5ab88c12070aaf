package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/gateway/control"
)

// testBackend is the Backend the CLI is driven against: canned box state
// served by the real control server on a real socket.
type testBackend struct {
	now     time.Time
	reports []control.ReportSummary
}

func newTestBackend(nReports int) *testBackend {
	now := time.Now().UTC()
	b := &testBackend{now: now}
	for i := range nReports {
		v, peer, reasons := control.VerdictPass, "hospital-b", []control.Reason(nil)
		if i%4 == 1 {
			v, peer = control.VerdictFail, "hospital-c"
			reasons = []control.Reason{{Code: "component_unknown", Message: "kernel digest 7a7a is in no approved manifest"}}
		}
		b.reports = append(b.reports, control.ReportSummary{
			ID: fmt.Sprintf("rep-%04d", i), Time: now.Add(-time.Duration(i) * time.Minute), Verifier: "hospital-a",
			Peer: peer, Verdict: v, Expiry: now.Add(5 * time.Minute), PolicyVersion: "1", Reasons: reasons,
		})
	}
	return b
}

func (b *testBackend) Status(context.Context) (control.StatusInfo, error) {
	return control.StatusInfo{
		Box: "hospital-a", Ready: true, TPMKind: "simulator", EKFingerprint: "sha256:0123abcd",
		WireGuardKey: "q2/JxYhMfNcvEDTmcHf7RYmkGf8tn08QzBzlnLOSbXo=", ListenPort: 51820,
		SelfCheck:   control.SelfCheck{Time: b.now.Add(-30 * time.Second), Pass: true},
		ChainHeight: 4242, LogSize: 1500,
		LastAnchored: &control.CheckpointInfo{Size: 1024, Root: strings.Repeat("ab", 32), Anchored: true, Block: 4200, TxHash: "0x" + strings.Repeat("cd", 32)},
	}, nil
}

func (b *testBackend) Peers(context.Context) ([]control.PeerInfo, error) {
	return []control.PeerInfo{
		{Name: "hospital-b", State: control.PeerAdmitted, WireGuardKey: "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=", Endpoint: "10.99.0.2:51820",
			LastHandshake: b.now.Add(-12 * time.Second), RxBytes: 1269760, TxBytes: 3500, Verdict: control.VerdictPass,
			Expiry: b.now.Add(4*time.Minute + 30*time.Second), LastReportID: "rep-0000"},
		{Name: "hospital-c", State: control.PeerNeverAdmitted, Endpoint: "10.99.0.3:51820", Verdict: control.VerdictFail,
			LastReportID: "rep-0001", Reasons: []control.Reason{{Code: "component_unknown", Message: "kernel digest 7a7a is in no approved manifest"}}},
	}, nil
}

func (b *testBackend) Attest(_ context.Context, peer string) (control.AttestResult, error) {
	switch peer {
	case "hospital-b":
		return control.AttestResult{Peer: peer, Verdict: control.VerdictPass, Admitted: true, ReportID: "rep-new", Expiry: b.now.Add(5 * time.Minute)}, nil
	case "hospital-c":
		return control.AttestResult{Peer: peer, Verdict: control.VerdictFail, ReportID: "rep-new2",
			Reasons: []control.Reason{{Code: "component_unknown", Message: "kernel digest 7a7a is in no approved manifest"}}}, nil
	}
	return control.AttestResult{}, fmt.Errorf("peer %q is not in the config: %w", peer, control.ErrNotFound)
}

func (b *testBackend) Reports(_ context.Context, f control.ReportFilter) ([]control.ReportSummary, error) {
	return control.ApplyFilter(b.reports, f), nil
}

// reportDoc is the "signed" document of a report; odd spacing makes sure
// the CLI passes bytes through rather than re-encoding them.
func reportDoc(id string) []byte {
	return []byte(fmt.Sprintf("{\"id\":\"%s\",  \"pass\": true,\n \"signature\":\"c2ln\"}", id))
}

func (b *testBackend) Report(_ context.Context, id string) ([]byte, error) {
	for _, r := range b.reports {
		if r.ID == id {
			return reportDoc(id), nil
		}
	}
	return nil, fmt.Errorf("report %q: %w", id, control.ErrNotFound)
}

func (b *testBackend) LedgerStatus(context.Context) (control.LedgerInfo, error) {
	return control.LedgerInfo{Box: "hospital-a", Size: 1500, Checkpoints: 3, AnchoredCheckpoints: 2, Backlog: 476,
		ChainMode: "rpc", ChainURL: "http://10.99.0.1:8545", ChainID: 1337, ChainConnected: false, ChainError: "dial tcp: connection refused",
		Endpoints: []control.EndpointInfo{{URL: "http://10.99.0.1:8545", Error: "connection refused"}, {URL: "http://10.99.1.1:8545", Healthy: true, Active: true, Head: 812}}}, nil
}

func (b *testBackend) Firmware(context.Context) (control.FirmwareInfo, error) {
	return control.FirmwareInfo{
		Manifests: []control.ManifestInfo{{Vendor: "acme", Version: "2.1", Components: 2}},
		Components: []control.ComponentInfo{
			{Name: "bootloader", Version: "2.1", PCR: 4, Digest: strings.Repeat("11", 32), Matched: true, Manifest: "acme 2.1"},
			{Name: "kernel", Version: "6.1", PCR: 9, Digest: strings.Repeat("7a", 32)},
		},
	}, nil
}

func (b *testBackend) Checkpoints(context.Context) ([]control.CheckpointInfo, error) {
	return []control.CheckpointInfo{{Size: 1500, Root: strings.Repeat("ef", 32), Time: b.now}, {Size: 1024, Root: strings.Repeat("ab", 32), Anchored: true, Block: 4200, TxHash: "0xcdcd"}}, nil
}

func serve(t *testing.T, b control.Backend) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	s, err := control.NewServer(control.ServerConfig{Path: path, Backend: b, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

type result struct {
	stdout, stderr string
	code           int
}

// wardgate runs the CLI in-process with the socket given by env.
func wardgate(t *testing.T, sock string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "WARDGATE_SOCKET" {
			return sock
		}
		return ""
	}
	code := run(context.Background(), args, &out, &errb, env)
	return result{out.String(), errb.String(), code}
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func TestStatusAndPeers(t *testing.T) {
	sock := serve(t, newTestBackend(3))
	r := wardgate(t, sock, "status")
	if r.code != 0 {
		t.Fatalf("status: code %d, stderr %s", r.code, r.stderr)
	}
	mustContain(t, "status", r.stdout, "box:", "hospital-a (ready)", "simulator", "sha256:0123abcd", "pass (30s ago)", "4242", "1500 entries", "size 1024", "block 4200")

	r = wardgate(t, sock, "status", "--json")
	var st control.StatusInfo
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.ChainHeight != 4242 || st.LastAnchored.Size != 1024 {
		t.Fatalf("status --json: %+v %v\n%s", st, err, r.stdout)
	}

	r = wardgate(t, sock, "peers")
	if r.code != 0 {
		t.Fatalf("peers: %+v", r)
	}
	lines := strings.Split(r.stdout, "\n")
	mustContain(t, "peers header", lines[0], "PEER", "STATE", "PUBLIC KEY", "ENDPOINT", "PATH", "HANDSHAKE", "RX", "TX", "VERDICT", "EXPIRES", "REPORT")
	mustContain(t, "peer b row", lines[1], "hospital-b", "admitted", "HIgo9xNzJMWL…", "10.99.0.2:51820", "12s ago", "1.21 MiB", "3.42 KiB", "pass", "in 4m", "rep-0000")
	mustContain(t, "peer c row", lines[2], "hospital-c", "never-admitted", "never", "fail")
	mustContain(t, "peers reasons", r.stdout, "# hospital-c:", "component_unknown: kernel digest 7a7a")
	// Columns line up (tabwriter): "STATE" starts where each state starts.
	if i := strings.Index(lines[0], "STATE"); strings.Index(lines[1], "admitted") != i || strings.Index(lines[2], "never-admitted") != i {
		t.Errorf("columns not aligned:\n%s", r.stdout)
	}

	r = wardgate(t, sock, "peers", "--json")
	var ps []control.PeerInfo
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil || len(ps) != 2 || ps[0].RxBytes != 1269760 || ps[1].Reasons[0].Code != "component_unknown" {
		t.Fatalf("peers --json: %+v %v", ps, err)
	}
}

func TestAttest(t *testing.T) {
	sock := serve(t, newTestBackend(3))
	r := wardgate(t, sock, "attest", "hospital-b")
	if r.code != 0 {
		t.Fatalf("attest pass: %+v", r)
	}
	mustContain(t, "attest b", r.stdout, "verdict:", "pass", "admitted:", "true", "rep-new")

	r = wardgate(t, sock, "attest", "hospital-c")
	if r.code != 1 {
		t.Fatalf("attest of a failing peer exited %d, want 1", r.code)
	}
	mustContain(t, "attest c", r.stdout, "fail", "component_unknown: kernel digest 7a7a")
	mustContain(t, "attest c stderr", r.stderr, "attestation failed: hospital-c: component_unknown")

	r = wardgate(t, sock, "attest", "hospital-c", "--json")
	var ar control.AttestResult
	if err := json.Unmarshal([]byte(r.stdout), &ar); err != nil || ar.Verdict != "fail" || r.code != 1 {
		t.Fatalf("attest --json: %+v %v code %d", ar, err, r.code)
	}

	r = wardgate(t, sock, "attest", "hospital-x")
	if r.code != 1 || !strings.Contains(r.stderr, `"hospital-x" is not in the config`) {
		t.Fatalf("attest unknown peer: %+v", r)
	}
	if r = wardgate(t, sock, "attest"); r.code != 2 || !strings.Contains(r.stderr, "PEER") {
		t.Fatalf("attest without a peer: %+v", r)
	}
}

func TestReportsListShow(t *testing.T) {
	sock := serve(t, newTestBackend(40))
	r := wardgate(t, sock, "reports", "list", "--verdict", "fail", "--peer", "hospital-c")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 11 { // header + 10 failing reports
		t.Fatalf("want header + 10 rows, got %d lines:\n%s", len(lines), r.stdout)
	}
	for _, l := range lines[1:] {
		mustContain(t, "row", l, "hospital-c", "fail", "component_unknown")
	}

	r = wardgate(t, sock, "reports", "list", "--since", "10m", "--json")
	var rs []control.ReportSummary
	if err := json.Unmarshal([]byte(r.stdout), &rs); err != nil {
		t.Fatal(err)
	}
	// rep-0000..rep-0010 are 0..10 minutes old; the run starts a little
	// later than the backend's clock, so 10 or 11 of them.
	if len(rs) < 10 || len(rs) > 11 || rs[0].ID != "rep-0000" {
		t.Fatalf("--since 10m: %d reports, first %v", len(rs), rs)
	}

	r = wardgate(t, sock, "reports", "list", "--limit", "5", "--offset", "5", "--json")
	json.Unmarshal([]byte(r.stdout), &rs)
	if len(rs) != 5 || rs[0].ID != "rep-0005" {
		t.Fatalf("page: %v", rs)
	}
	for _, bad := range [][]string{{"--verdict", "maybe"}, {"--since", "yesterday"}, {"--limit", "99999"}} {
		r = wardgate(t, sock, append([]string{"reports", "list"}, bad...)...)
		if r.code != 2 || !strings.Contains(r.stderr, bad[0]) {
			t.Errorf("reports list %v: code %d stderr %q, want usage error naming %s", bad, r.code, r.stderr, bad[0])
		}
	}

	r = wardgate(t, sock, "reports", "show", "rep-0003", "--json")
	if r.code != 0 || r.stdout != string(reportDoc("rep-0003"))+"\n" {
		t.Fatalf("show --json must print the signed bytes verbatim, got %q", r.stdout)
	}
	r = wardgate(t, sock, "reports", "show", "rep-0003")
	mustContain(t, "show", r.stdout, "\"id\": \"rep-0003\"", "\"signature\": \"c2ln\"")
	r = wardgate(t, sock, "reports", "show", "rep-9999")
	if r.code != 1 || !strings.Contains(r.stderr, "rep-9999") || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("show unknown: %+v", r)
	}
}

func TestReportsExport(t *testing.T) {
	// More reports than one page (MaxLimit) so export must page.
	b := newTestBackend(control.MaxLimit + 250)
	sock := serve(t, b)
	r := wardgate(t, sock, "reports", "export", "--format", "json", "--verdict", "pass")
	if r.code != 0 {
		t.Fatalf("%+v", r.stderr)
	}
	var docs []json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &docs); err != nil {
		t.Fatalf("export is not a JSON array: %v", err)
	}
	var want []string
	for _, s := range b.reports {
		if s.Verdict == control.VerdictPass {
			want = append(want, s.ID)
		}
	}
	if len(docs) != len(want) {
		t.Fatalf("exported %d reports, want %d", len(docs), len(want))
	}
	for i, d := range docs {
		if !bytes.Equal(d, reportDoc(want[i])) {
			t.Fatalf("report %d not exported byte for byte:\n%s\nwant\n%s", i, d, reportDoc(want[i]))
		}
	}

	out := filepath.Join(t.TempDir(), "reports.csv")
	r = wardgate(t, sock, "reports", "export", "--format", "csv", "--peer", "hospital-c", "--since", "1h", "-o", out)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	rows, err := csv.NewReader(strings.NewReader(readFile(t, out))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "id" || rows[0][4] != "verdict" {
		t.Fatalf("csv header %v", rows[0])
	}
	// hospital-c reports are i%4==1 within the last hour: i=1,5,...,57 (15), maybe one more at the edge.
	if n := len(rows) - 1; n != 15 {
		t.Fatalf("csv rows %d, want 15", n)
	}
	for _, row := range rows[1:] {
		if row[3] != "hospital-c" || row[4] != "fail" || !strings.HasPrefix(row[7], "component_unknown: ") {
			t.Fatalf("csv row %v", row)
		}
	}
	mustContain(t, "export stderr", r.stderr, "exported 15 reports to "+out)

	if r = wardgate(t, sock, "reports", "export", "--format", "xml"); r.code != 2 || !strings.Contains(r.stderr, "--format") {
		t.Fatalf("bad format: %+v", r)
	}
}

func TestLedgerFirmware(t *testing.T) {
	sock := serve(t, newTestBackend(1))
	r := wardgate(t, sock, "ledger", "status")
	mustContain(t, "ledger status", r.stdout, "1500 entries", "3 signed, 2 anchored", "476 entries not yet anchored", "rpc http://10.99.0.1:8545", "NOT CONNECTED", "connection refused",
		"endpoint:", "http://10.99.0.1:8545 UNHEALTHY: connection refused", "http://10.99.1.1:8545 healthy, active, head 812")
	r = wardgate(t, sock, "ledger", "checkpoints", "--json")
	var cps []control.CheckpointInfo
	if err := json.Unmarshal([]byte(r.stdout), &cps); err != nil || len(cps) != 2 || !cps[1].Anchored {
		t.Fatalf("checkpoints: %v %v", cps, err)
	}
	r = wardgate(t, sock, "firmware", "show")
	if r.code != 1 || !strings.Contains(r.stderr, "do not all match") {
		t.Fatalf("firmware show with an unknown component must fail: %+v", r)
	}
	mustContain(t, "firmware show", r.stdout, "acme", "bootloader", "acme 2.1", "kernel", "NOT IN ANY MANIFEST")
}

func TestDaemonUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "gone.sock")
	for _, args := range [][]string{{"status"}, {"peers", "--json"}, {"reports", "list"}, {"ledger", "status"}} {
		r := wardgate(t, sock, args...)
		if r.code != 1 || r.stdout != "" {
			t.Errorf("%v: code %d stdout %q", args, r.code, r.stdout)
		}
		mustContain(t, fmt.Sprint(args), r.stderr, "wardgate: cannot reach wardgated at "+sock, "is the daemon running?")
	}
	// --socket beats the environment.
	good := serve(t, newTestBackend(1))
	if r := wardgate(t, sock, "--socket", good, "status"); r.code != 0 {
		t.Fatalf("--socket not used: %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	sock := serve(t, newTestBackend(1))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"reports", "lsit"}, `unknown command "lsit" for "wardgate reports"`},
		{[]string{"ledger", "stats"}, `unknown command "stats" for "wardgate ledger"`},
		{[]string{"status", "extra"}, "takes 0 argument(s)"},
		{[]string{"peers", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"reports", "show"}, "(ID)"},
	} {
		r := wardgate(t, sock, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("%v: code %d stderr %q stdout %q; want exit 2 naming %q", c.args, r.code, r.stderr, r.stdout, c.want)
		}
	}
	if r := wardgate(t, sock, "reports"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("bare group should print its help: %+v", r)
	}
}
