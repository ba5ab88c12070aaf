package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/internal/testutil"
)

// TestNonRecipeDaemonRefused: the vendor approves the wardgated that the
// release recipe builds. A box running a wardgated built any other way (a
// plain `go build` of the same source) measures another digest and is
// refused with component-unapproved, naming wardgated; `wardgate firmware
// reproduce` on that failing report, given the binary, says the digest
// differs and why.
func TestNonRecipeDaemonRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	plain := binaries(t)
	root := sourceRoot(t)
	release := filepath.Join(t.TempDir(), "wardgated")
	recipe := firmware.Recipe{Version: "test", Toolchain: firmware.ReleaseToolchain}
	if err := recipe.Build(ctx, root, release, firmware.ReleaseTargets[0], os.Environ()); err != nil {
		t.Fatal(err)
	}
	// The dev consortium's manifest approves the wardgated that writes it:
	// here the recipe build.
	c, err := cluster.New(ctx, cluster.Spec{
		Dir: t.TempDir(), Bin: cluster.Binaries{Daemon: release, CLI: plain.CLI}, Mode: cluster.Userspace,
		Boxes: []string{"a", "b"}, Interval: time.Second, Lifetime: 2 * time.Second, Logger: testutil.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Box("b").Daemon = plain.Daemon
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a := c.Box("a")
	p, err := a.WaitPeer(ctx, "b", func(p cluster.Peer) bool { return p.Verdict == "fail" && hasReason(p, "component-unapproved") })
	if err != nil {
		t.Fatalf("a never refused b's non-recipe wardgated: %v\n%s", err, a.LogTail(20))
	}
	if p.State == "admitted" || !reasonMentions(p, "component-unapproved", "wardgated") {
		t.Fatalf("b: state %s, reasons %+v; want refused, component-unapproved naming wardgated", p.State, p.Reasons)
	}
	out, err := reproduceFailing(ctx, t, a, plain, root)
	if err == nil || !strings.Contains(string(out), "digest_differs") || !strings.Contains(string(out), "-trimpath") {
		t.Fatalf("reproduce on a non-recipe daemon: err %v, output:\n%s\nwant digest_differs naming -trimpath", err, out)
	}
}

// reproduceFailing runs `wardgate firmware reproduce` on a's newest failing
// report on b, with b's binary.
func reproduceFailing(ctx context.Context, t *testing.T, a *cluster.Box, bins cluster.Binaries, root string) ([]byte, error) {
	t.Helper()
	var reps []struct {
		ID string `json:"id"`
	}
	if err := a.CLIJSON(ctx, &reps, "reports", "list", "--peer", "b", "--verdict", "fail", "--limit", "1"); err != nil || len(reps) == 0 {
		t.Fatalf("a's failing report on b: %v (%d reports)", err, len(reps))
	}
	report, err := a.CLI(ctx, "reports", "show", reps[0].ID, "--json")
	if err != nil {
		t.Fatalf("reports show: %v", err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, report, 0o644); err != nil {
		t.Fatal(err)
	}
	key := recordKey(ctx, t, a)
	cmd := exec.CommandContext(ctx, bins.CLI, "firmware", "reproduce", "--report", path, "--key", key, "--source", root, "--binary", bins.Daemon)
	return cmd.CombinedOutput()
}

func reasonMentions(p cluster.Peer, code, word string) bool {
	for _, r := range p.Reasons {
		if r.Code == code && strings.Contains(r.Message, word) {
			return true
		}
	}
	return false
}

// sourceRoot is the module root, the tree the recipe builds.
func sourceRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
