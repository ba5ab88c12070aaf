package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A vendor signs a runtime policy with the CLI and an operator checks it
// as wardgated will: a policy edited after signing is refused, and a
// malformed one is refused before it is signed.
func TestRuntimePolicySignVerify(t *testing.T) {
	dir := t.TempDir()
	_, key, pub := vendorKeyFiles(t, dir)
	p := writeFile(t, dir, "runtime.json", []byte(`{"version":"1.4.0","allowed":[
		{"path":"/usr/bin/wardgated","sha256":["`+strings.Repeat("ab", 32)+`","`+strings.Repeat("cd", 32)+`"]},
		{"path":"/boot/vmlinuz","sha256":["`+strings.Repeat("01", 32)+`"]}],
		"exclude":["/var/log/"]}`))
	if r := wardgate(t, "", "runtime-policy", "sign", p, "--key", key); r.code != 0 {
		t.Fatalf("sign: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "runtime.sig")); err != nil {
		t.Fatalf("no signature written: %v", err)
	}
	r := wardgate(t, "", "runtime-policy", "verify", p, "--vendor-key", pub)
	if r.code != 0 {
		t.Fatalf("verify: %+v", r)
	}
	mustContain(t, "verify", r.stdout, "verified", "2 paths, 3 approved digests, 1 exclusions")

	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(strings.Repeat("01", 32)), []byte(strings.Repeat("02", 32)), 1), 0o644)
	if r = wardgate(t, "", "runtime-policy", "verify", p, "--vendor-key", pub); r.code != 1 || !strings.Contains(r.stderr, "REFUSED") {
		t.Fatalf("edited policy: %+v", r)
	}
	bad := writeFile(t, dir, "bad.json", []byte(`{"version":"1","allowed":[{"path":"/x","sha256":["nothex"]}]}`))
	if r = wardgate(t, "", "runtime-policy", "sign", bad, "--key", key); r.code == 0 {
		t.Fatalf("malformed policy signed: %+v", r)
	}
	if r = wardgate(t, "", "runtime-policy", "verify", p); r.code != 2 || !strings.Contains(r.stderr, "--vendor-key") {
		t.Fatalf("verify without a key: %+v", r)
	}
}
