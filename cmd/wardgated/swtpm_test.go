package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/gateway"
	"github.com/wardgate/wardgate/gateway/control"
)

// TestSWTPM runs box b on a real swtpm process (over TCP) next to a on the
// simulator: b is admitted, and after a restart (a new boot of the same
// swtpm) its sealed keys still open and it is admitted again.
func TestSWTPM(t *testing.T) {
	sw, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("SKIPPED: swtpm is not installed (make deps installs it)")
	}
	dir, base := consortium(t, "a,b", "")
	port := base + 7 // free in box a's range
	state := t.TempDir()
	cmd := exec.Command(sw, "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--server", "type=tcp,port="+strconv.Itoa(port)+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+strconv.Itoa(port+1)+",bindaddr=127.0.0.1",
		"--flags", "not-need-init,startup-clear")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, "swtpm listening", func() (bool, string) {
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})

	cfgB := filepath.Join(dir, "b", "wardgate.yaml")
	edit := func(path string, f func(string) string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, []byte(f(string(b))), 0o644)
	}
	edit(cfgB, func(s string) string {
		return strings.Replace(s, "source: simulator", "source: swtpm\n    address: 127.0.0.1:"+strconv.Itoa(port), 1)
	})
	out, errs, code := wardgated(t, "--config", cfgB, "--identity")
	if code != 0 {
		t.Fatalf("--identity on swtpm: %s", errs)
	}
	var id gateway.Identity
	if err := json.Unmarshal([]byte(out), &id); err != nil || id.TPM != "swtpm" {
		t.Fatalf("identity: %+v %v", id, err)
	}
	edit(filepath.Join(dir, "a", "wardgate.yaml"), func(s string) string {
		return regexp.MustCompile(`ek: sha256:[0-9a-f]+`).ReplaceAllString(s, "ek: "+id.EK)
	})

	a := startBox(t, dir, "a")
	a.waitReady(t)
	for run := 1; run <= 2; run++ {
		b := startBox(t, dir, "b")
		st := b.waitReady(t)
		if st.TPMKind != "swtpm" || !st.SelfCheck.Pass {
			t.Fatalf("run %d: b on swtpm: kind %s self-check %+v", run, st.TPMKind, st.SelfCheck)
		}
		eventually(t, "a admits b on swtpm", func() (bool, string) { p := a.peer(t, "b"); return p.State == control.PeerAdmitted, string(p.State) })
		if strings.Contains(b.log.String(), "QUARANTINE") {
			t.Fatalf("run %d: b quarantined after a reboot of the same swtpm", run)
		}
		if err := b.stop(t); err != nil {
			t.Fatal(err)
		}
	}
}
