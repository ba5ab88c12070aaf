package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/firmware"
)

func TestFirmwareVerify(t *testing.T) {
	sock := serve(t, newTestBackend(1)) // measures bootloader (11..) in PCR 4 and kernel (7a..) in PCR 9
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	keyFile := writeFile(t, dir, "vendor.pub", []byte(hex.EncodeToString(pub)+"\n"))

	sign := func(name string, comps ...firmware.Component) string {
		mj, sig, err := firmware.SignManifest(&firmware.Manifest{Vendor: "acme", Version: name, Components: comps}, priv)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, name+".sig", sig)
		return writeFile(t, dir, name+".json", mj)
	}
	boot := firmware.Component{Name: "bootloader", Version: "2.1", SHA256: strings.Repeat("11", 32), PCR: 4}
	kernel := firmware.Component{Name: "kernel", Version: "6.1", SHA256: strings.Repeat("7a", 32), PCR: 9}
	full := sign("2.1", boot, kernel)
	partial := sign("2.0", boot)

	r := wardgate(t, sock, "firmware", "verify", full, "--vendor-key", keyFile)
	if r.code != 0 {
		t.Fatalf("matching signed manifest: %+v", r)
	}
	mustContain(t, "verify", r.stdout, "acme 2.1, 2 approved components", "signature:", "verified", "box:", "hospital-a", "kernel", "yes (kernel 6.1)")

	r = wardgate(t, sock, "firmware", "verify", partial, "--vendor-key", keyFile, "--json")
	var out firmwareVerifyOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || out.Pass {
		t.Fatalf("manifest without the kernel: code %d %+v %v", r.code, out, err)
	}
	if !out.Components[0].InManifest || out.Components[1].InManifest {
		t.Fatalf("per-component result wrong: %+v", out.Components)
	}
	mustContain(t, "stderr", r.stderr, "1 measured component(s) of hospital-a are not in manifest acme 2.0")

	// A manifest signed by someone else is refused before looking at the box.
	r = wardgate(t, sock, "firmware", "verify", full, "--vendor-key", hex.EncodeToString(otherPub))
	if r.code != 1 || !strings.Contains(r.stderr, "manifest REFUSED") || !strings.Contains(r.stderr, "does not verify under any vendor key") {
		t.Fatalf("wrong vendor key: %+v", r)
	}
	// Missing signature file.
	r = wardgate(t, sock, "firmware", "verify", full, "--vendor-key", keyFile, "--signature", filepath.Join(dir, "none.sig"))
	if r.code != 1 || !strings.Contains(r.stderr, "no signature") {
		t.Fatalf("missing signature: %+v", r)
	}
	// Unsigned check works offline without the daemon and warns.
	r = wardgate(t, filepath.Join(dir, "nodaemon.sock"), "firmware", "verify", full, "--offline")
	if r.code != 0 || !strings.Contains(r.stdout, "warning: signature not checked") {
		t.Fatalf("offline unsigned: %+v", r)
	}
	// Without --offline a missing daemon is an error that suggests it.
	r = wardgate(t, filepath.Join(dir, "nodaemon.sock"), "firmware", "verify", full)
	if r.code != 1 || !strings.Contains(r.stderr, "--offline") {
		t.Fatalf("no daemon: %+v", r)
	}
	bad := writeFile(t, dir, "bad.json", []byte(`{"vendor":"acme","version":"1","components":[]}`))
	if r = wardgate(t, sock, "firmware", "verify", bad, "--offline"); r.code != 1 || !strings.Contains(r.stderr, `"components" is empty`) {
		t.Fatalf("invalid manifest: %+v", r)
	}
}
