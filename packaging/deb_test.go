// Package packaging_test builds the Debian package with `make deb`,
// installs it with dpkg into a scratch root, and checks what an operator
// gets: both binaries, a unit that systemd-analyze verifies, the example
// config, the wardgate group and /var/lib/wardgate.
package packaging_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDebInstalls builds the package once and installs it into a scratch
// root (dpkg --root, maintainer scripts run chrootless with DPKG_ROOT, as
// for a system image): the installed wardgated checks a config, the unit
// verifies, postinst made the group and the state dir.
func TestDebInstalls(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("installs with dpkg and creates a group: runs as root (CI does); `sudo make test`")
	}
	out := t.TempDir()
	run(t, "..", "make", "-s", "build", "deb", "DEB_BIN=bin", "DEB_OUT="+out)
	debs, _ := filepath.Glob(filepath.Join(out, "wardgate_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb wrote %v, want one wardgate_*_amd64.deb", debs)
	}
	root := scratchRoot(t)
	run(t, "", "dpkg", "--root="+root, "--log="+filepath.Join(root, "dpkg.log"), "--force-script-chrootless",
		"--force-depends", "-i", debs[0])

	checkInstalled(t, root)
	checkUnit(t, root)
	// The installed daemon writes a dev consortium and checks a box's config.
	dc := filepath.Join(t.TempDir(), "dc")
	wardgated := filepath.Join(root, "usr/bin/wardgated")
	run(t, "", wardgated, "--dev-consortium", dc, "--boxes", "a,b")
	if got := run(t, "", wardgated, "--config", filepath.Join(dc, "a", "wardgate.yaml"), "--check-config"); !strings.Contains(got, "ok (box a") {
		t.Fatalf("--check-config from the installed wardgated: %s", got)
	}
	run(t, "", filepath.Join(root, "usr/bin/wardgate"), "--help")
}

// scratchRoot is an empty system root with what dpkg and groupadd need:
// dpkg's database and the group files.
func scratchRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{
		"var/lib/dpkg/status": "", "etc/group": "root:x:0:\n", "etc/gshadow": "root:*::\n",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// checkInstalled: the files, the group, the state dir root's alone.
func checkInstalled(t *testing.T, root string) {
	t.Helper()
	for _, f := range []string{"usr/bin/wardgated", "usr/bin/wardgate", "lib/systemd/system/wardgated.service",
		"usr/share/doc/wardgate/examples/wardgate.yaml", "usr/share/wardgate/grafana/wardgate.json",
		"usr/share/wardgate/prometheus/wardgate-alerts.yml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("package did not install /%s: %v", f, err)
		}
	}
	group, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil || !bytes.Contains(group, []byte("\nwardgate:")) {
		t.Errorf("postinst did not create the wardgate group: %q %v", group, err)
	}
	fi, err := os.Stat(filepath.Join(root, "var/lib/wardgate"))
	if err != nil {
		t.Fatalf("no /var/lib/wardgate: %v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("/var/lib/wardgate is %v uid %d gid %d, want a directory 0700 root:root (the unit's StateDirectoryMode)", fi.Mode(), st.Uid, st.Gid)
	}
}

// checkUnit runs systemd-analyze verify on the installed unit, inside the
// scratch root (with the host's stock units, which it names), and wants
// no complaint at all: an unknown key is only a warning there.
func checkUnit(t *testing.T, root string) {
	t.Helper()
	unitDir := filepath.Join(root, "lib/systemd/system")
	stock := os.DirFS("/lib/systemd/system")
	err := fs.WalkDir(stock, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "wardgated.service" {
			return err
		}
		dst := filepath.Join(unitDir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if target, err := os.Readlink(filepath.Join("/lib/systemd/system", p)); err == nil {
			return os.Symlink(target, dst)
		}
		b, err := fs.ReadFile(stock, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying the stock units: %v", err)
	}
	if got := run(t, "", "systemd-analyze", "--root="+root, "verify", "/lib/systemd/system/wardgated.service"); strings.TrimSpace(got) != "" {
		t.Fatalf("systemd-analyze verify complains about the installed unit:\n%s", got)
	}
}

// run runs a command in dir and returns its combined output; it fails the
// test if the command fails.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
