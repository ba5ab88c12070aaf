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

// TestNonRecipeDaemonRefused: the vendor's manifest, made by `wardgate
// manifest create|sign` from a golden box on the recipe build, approves the
// wardgated that the release recipe builds. Box a runs that build and is
// admitted by b; `wardgate firmware reproduce` on b's passing report
// rebuilds it from source. Box b runs a plain `go build` of the same
// source: it measures another digest and a refuses it with
// component-unapproved, naming wardgated, and reproduce on that failing
// report, given the binary, says the digest differs and why.
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
	vendorManifest(ctx, t, c, release, plain.CLI)
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
	out, err := reproduce(ctx, t, a, "b", "fail", plain.CLI, root, "--binary", plain.Daemon)
	if err == nil || !strings.Contains(string(out), "digest_differs") || !strings.Contains(string(out), "-trimpath") {
		t.Fatalf("reproduce on a non-recipe daemon: err %v, output:\n%s\nwant digest_differs naming -trimpath", err, out)
	}

	b := c.Box("b")
	if _, err := b.WaitPeer(ctx, "a", func(p cluster.Peer) bool { return p.Verdict == "pass" }); err != nil {
		t.Fatalf("b never passed a, which runs the approved recipe build: %v\n%s", err, b.LogTail(20))
	}
	out, err = reproduce(ctx, t, b, "a", "pass", plain.CLI, root)
	if err != nil || !strings.Contains(string(out), "reproduced") {
		t.Fatalf("reproduce on the recipe build: err %v, output:\n%s\nwant reproduced", err, out)
	}
}

// vendorManifest replaces the dev generator's manifest with the vendor's
// own, as a release manager makes it: golden box a's `wardgated --identity`
// on the recipe build, through `wardgate manifest create` and `sign`.
func vendorManifest(ctx context.Context, t *testing.T, c *cluster.Cluster, daemon, cli string) {
	t.Helper()
	id, err := exec.CommandContext(ctx, daemon, "--config", c.Box("a").ConfigPath, "--identity").Output()
	if err != nil {
		t.Fatalf("wardgated --identity on golden box a: %v", err)
	}
	golden := filepath.Join(t.TempDir(), "golden-a.json")
	if err := os.WriteFile(golden, id, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(c.Dir(), "manifests", "firmware-1.0.json")
	for _, args := range [][]string{
		{"manifest", "create", "--vendor", "wardgate-dev", "--version", "1.0", "--identity", golden, "-o", manifest},
		{"manifest", "sign", manifest, "--key", filepath.Join(c.Dir(), "vendor", "vendor.key")},
	} {
		if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
			t.Fatalf("wardgate %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// reproduce runs `wardgate firmware reproduce` on from's newest report on
// peer with the given verdict.
func reproduce(ctx context.Context, t *testing.T, from *cluster.Box, peer, verdict, cli, root string, extra ...string) ([]byte, error) {
	t.Helper()
	var reps []struct {
		ID string `json:"id"`
	}
	if err := from.CLIJSON(ctx, &reps, "reports", "list", "--peer", peer, "--verdict", verdict, "--limit", "1"); err != nil || len(reps) == 0 {
		t.Fatalf("%s's %s report on %s: %v (%d reports)", from.Name, verdict, peer, err, len(reps))
	}
	report, err := from.CLI(ctx, "reports", "show", reps[0].ID, "--json")
	if err != nil {
		t.Fatalf("reports show: %v", err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, report, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"firmware", "reproduce", "--report", path, "--key", recordKey(ctx, t, from), "--source", root}, extra...)
	return exec.CommandContext(ctx, cli, args...).CombinedOutput()
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
