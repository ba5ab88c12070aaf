package gateway

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/gateway/config"
)

// TestExampleConfigs keeps configs/ honest: the example wardgate.yaml
// validates, its manifest verifies under its vendor key, its policy loads,
// and the unit checks the config before starting.
func TestExampleConfigs(t *testing.T) {
	dir, err := filepath.Abs("../configs")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "wardgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(data, dir)
	if err != nil {
		t.Fatalf("configs/wardgate.yaml: %v", err)
	}
	if len(c.Peers) != 2 || c.Box != "hospital-a" {
		t.Errorf("example is not hospital-a with two peers: %s %d", c.Box, len(c.Peers))
	}
	var vks []ed25519.PublicKey
	for _, p := range c.Attestation.VendorKeys {
		k, err := readEd25519Public(p)
		if err != nil {
			t.Fatal(err)
		}
		vks = append(vks, k)
	}
	for _, m := range c.Attestation.Manifests {
		if _, err := firmware.LoadManifest(m.Path, m.Signature, vks); err != nil {
			t.Errorf("example manifest: %v", err)
		}
	}
	p, err := loadPolicy(c.Attestation.Policy)
	if err != nil || p.Version == "" || len(p.RequiredComponents) == 0 {
		t.Errorf("example policy: %+v %v", p, err)
	}
	unit, err := os.ReadFile(filepath.Join(dir, "wardgated.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"ExecStartPre=/usr/local/bin/wardgated --config /etc/wardgate/wardgate.yaml --check-config", "ExecStart=/usr/local/bin/wardgated --config /etc/wardgate/wardgate.yaml", "KillSignal=SIGTERM"} {
		if !strings.Contains(string(unit), w) {
			t.Errorf("wardgated.service lacks %q", w)
		}
	}
	// A policy with an unknown key is refused, naming the keys.
	bad := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(bad, []byte("version: x\nrequired: [kernel]\n"), 0o600)
	if _, err := loadPolicy(bad); err == nil || !strings.Contains(err.Error(), "required_components") {
		t.Errorf("bad policy: %v", err)
	}
}
