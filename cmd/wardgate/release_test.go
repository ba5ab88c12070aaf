package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/firmware"
)

// vendorKeyFiles writes an Ed25519 key pair as PKCS#8 / PKIX PEM files.
func vendorKeyFiles(t *testing.T, dir string) (priv ed25519.PrivateKey, keyPath, pubPath string) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	pk8, _ := x509.MarshalPKCS8PrivateKey(priv)
	pkix, _ := x509.MarshalPKIXPublicKey(pub)
	keyPath = writeFile(t, dir, "vendor.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}))
	pubPath = writeFile(t, dir, "vendor.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}))
	return priv, keyPath, pubPath
}

// signedReport is a verifying box's signed report that measured wardgated
// at this version and digest, in the wire form VerifyReport reads.
func signedReport(t *testing.T, dir string, key ed25519.PrivateKey, version, digest string) string {
	t.Helper()
	body, _ := json.Marshal(attest.Report{ID: "r1", Verifier: "hospital-b", Peer: "hospital-a", Time: time.Now(), Pass: true,
		Components: []attest.ReportComponent{{Name: firmware.DaemonComponent, Version: version, PCR: 8, Digest: digest, Matched: true}}})
	env, _ := json.Marshal(map[string]any{"report": json.RawMessage(body), "signature": ed25519.Sign(key, body), "key": key.Public()})
	return writeFile(t, dir, "report.json", env)
}

func TestManifestCreateSignVerify(t *testing.T) {
	dir := t.TempDir()
	_, key, pub := vendorKeyFiles(t, dir)
	bin := writeFile(t, dir, "wardgated", []byte("daemon image"))
	id := writeFile(t, dir, "identity.json", []byte(`{"box":"golden","tpm":"sim","ek":"ab","components":[{"name":"bootloader","version":"2.1","sha256":"`+strings.Repeat("11", 32)+`","pcr":4}]}`))
	m := filepath.Join(dir, "m.json")
	r := wardgate(t, "", "manifest", "create", "--vendor", "acme", "--version", "1.0", "--component", "wardgated=1.0:8:"+bin, "--identity", id, "-o", m)
	if r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	if r = wardgate(t, "", "manifest", "sign", m, "--key", key); r.code != 0 {
		t.Fatalf("sign: %+v", r)
	}
	r = wardgate(t, "", "firmware", "verify", m, "--vendor-key", pub, "--offline")
	if r.code != 0 {
		t.Fatalf("verify: %+v", r)
	}
	mustContain(t, "verify", r.stdout, "acme 1.0, 2 approved components", "verified")

	// Edited after signing: refused.
	b, _ := os.ReadFile(m)
	os.WriteFile(m, bytes.Replace(b, []byte(`"pcr":8`), []byte(`"pcr":9`), 1), 0o644)
	if r = wardgate(t, "", "firmware", "verify", m, "--vendor-key", pub, "--offline"); r.code != 1 || !strings.Contains(r.stderr, "does not verify") {
		t.Fatalf("edited manifest: %+v", r)
	}
	// The same binary from two sources is one entry; a different digest
	// under the same name and version is refused by name.
	spec := "wardgated=1.0:8:" + bin
	if r = wardgate(t, "", "manifest", "create", "--vendor", "a", "--version", "1", "--component", spec, "--component", spec); r.code != 0 || strings.Count(r.stdout, `"name"`) != 1 {
		t.Fatalf("same component twice: %+v", r)
	}
	other := writeFile(t, dir, "other", []byte("another image"))
	r = wardgate(t, "", "manifest", "create", "--vendor", "a", "--version", "1", "--component", spec, "--component", "wardgated=1.0:8:"+other)
	if r.code != 1 || !strings.Contains(r.stderr, "wardgated 1.0 is listed twice") {
		t.Fatalf("two digests for one version: %+v", r)
	}
	// Bad input names the flag and the form.
	r = wardgate(t, "", "manifest", "create", "--vendor", "acme", "--version", "1", "--component", "wardgated:"+bin)
	if r.code != 2 || !strings.Contains(r.stderr, "NAME=VERSION:PCR:FILE") {
		t.Fatalf("bad --component: %+v", r)
	}
	if r = wardgate(t, "", "manifest", "sign", m, "--key", pub); r.code != 2 || !strings.Contains(r.stderr, "PRIVATE KEY") {
		t.Fatalf("public key given to sign: %+v", r)
	}
}

func TestReproduceRefusesForgedReport(t *testing.T) {
	dir := t.TempDir()
	_, forger, _ := ed25519.GenerateKey(nil)
	verifier, _, _ := ed25519.GenerateKey(nil)
	rep := signedReport(t, dir, forger, "1.0", strings.Repeat("ab", 32))
	r := wardgate(t, "", "firmware", "reproduce", "--report", rep, "--key", hex.EncodeToString(verifier), "--source", dir)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "report_signature") {
		t.Fatalf("report under another key: %+v", r)
	}
}

// gitArchive unpacks the committed tree (HEAD) into dir: what a third
// party gets from a tag, independent of uncommitted work in this checkout.
func gitArchive(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `cd "$(git rev-parse --show-toplevel)" && git archive HEAD | tar -x -C "$1"`, "sh", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
}

// TestReleaseReproducible builds the release twice from two copies of the
// source at different paths, with separate build caches (the second one
// empty, so it is a cold build), and fails on any digest difference. The
// module download cache is shared read-only (GOPROXY=off): a separate one
// would download every module again, which CI cannot do offline.
// Then it checks the release, makes a manifest from it, and reproduces the
// daemon digest of a signed report from source.
func TestReleaseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("two release builds, one cold (minutes); skipped with -short")
	}
	root := t.TempDir()
	srcA, srcB := filepath.Join(root, "a", "src"), filepath.Join(root, "b", "elsewhere", "wardgate")
	gitArchive(t, srcA)
	gitArchive(t, srcB)
	priv, _, pub := vendorKeyFiles(t, root)
	sbomTool := os.Getenv("WARDGATE_CYCLONEDX")
	if _, err := os.Stat(sbomTool); err != nil {
		t.Logf("no cyclonedx-gomod at WARDGATE_CYCLONEDX=%q (make sbom-tool installs it): building without SBOMs", sbomTool)
		sbomTool = ""
	}
	build := func(src, out string, env []string) time.Duration {
		start := time.Now()
		_, err := firmware.BuildRelease(context.Background(), firmware.ReleaseOptions{Source: src, Out: out, Vendor: "acme",
			SBOMTool: sbomTool, Env: env, Signer: firmware.NewFileSigner(priv),
			Recipe: firmware.Recipe{Version: "1.0.0-test", Toolchain: firmware.ReleaseToolchain}})
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	distA, distB := filepath.Join(root, "a", "dist"), filepath.Join(root, "b", "dist")
	tA := build(srcA, distA, os.Environ())
	tB := build(srcB, distB, append(os.Environ(), "GOCACHE="+filepath.Join(root, "b", "gocache"), "GOPROXY=off"))
	t.Logf("release build A (shared build cache) %v, B (empty build cache) %v", tA.Round(time.Second), tB.Round(time.Second))

	sumsA, _ := os.ReadFile(filepath.Join(distA, firmware.SumsFile))
	sumsB, _ := os.ReadFile(filepath.Join(distB, firmware.SumsFile))
	if !bytes.Equal(sumsA, sumsB) {
		t.Fatalf("release builds differ:\n--- %s\n%s--- %s\n%s", srcA, sumsA, srcB, sumsB)
	}
	t.Logf("identical releases:\n%s", sumsA)
	for _, n := range []string{"wardgated", "wardgate", "wardgated.cdx.json"} {
		if fi, err := os.Stat(filepath.Join(distA, n)); err == nil {
			t.Logf("%s: %d bytes", n, fi.Size())
		}
	}

	r := wardgate(t, "", "release", "verify", distA, "--vendor-key", pub)
	if r.code != 0 {
		t.Fatalf("release verify: %+v", r)
	}
	mustContain(t, "release verify", r.stdout, "signature ok")

	// A manifest from the release and a golden box that measured the same
	// binary: one wardgated entry, with its SBOM digest.
	digest, _, _ := firmware.HashFile(filepath.Join(distA, "wardgated"))
	id := writeFile(t, root, "golden.json", []byte(`{"box":"a","components":[{"name":"wardgated","version":"1.0.0-test","sha256":"`+digest+`","pcr":8}]}`))
	m := filepath.Join(root, "m.json")
	if r = wardgate(t, "", "manifest", "create", "--vendor", "acme", "--version", "1", "--identity", id, "--release", distA, "-o", m); r.code != 0 {
		t.Fatalf("manifest create --release --identity: %+v", r)
	}
	mb, _ := os.ReadFile(m)
	if bytes.Count(mb, []byte(`"name":"wardgated"`)) != 1 || sbomTool != "" && !bytes.Contains(mb, []byte("sbom_sha256")) {
		t.Fatalf("merged manifest: %s", mb)
	}

	// The security team's side: a report signed by the verifying box names
	// the daemon digest; reproduce rebuilds it from source.
	boxPub, boxKey, _ := ed25519.GenerateKey(nil)
	rep := signedReport(t, root, boxKey, "1.0.0-test", digest)
	start := time.Now()
	r = wardgate(t, "", "firmware", "reproduce", "--report", rep, "--key", hex.EncodeToString(boxPub), "--source", srcB)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "reproduced") {
		t.Fatalf("reproduce the released daemon: %+v", r)
	}
	t.Logf("reproduce took %v", time.Since(start).Round(time.Second))

	// A daemon built without the recipe (here: another version stamped in)
	// is not reproduced, and the difference is named.
	other := filepath.Join(root, "other")
	rec := firmware.Recipe{Version: "1.0.0-other", Toolchain: firmware.ReleaseToolchain}
	if err := rec.Build(context.Background(), srcA, other, firmware.ReleaseTargets[0], os.Environ()); err != nil {
		t.Fatal(err)
	}
	od, _, _ := firmware.HashFile(other)
	rep = signedReport(t, root, boxKey, "1.0.0-test", od)
	r = wardgate(t, "", "firmware", "reproduce", "--report", rep, "--key", hex.EncodeToString(boxPub), "--source", srcA, "--binary", other)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "digest_differs") || !strings.Contains(r.stdout, "version stamped by -ldflags -X differs") {
		t.Fatalf("reproduce a differently built daemon: %+v", r)
	}
}

// TestExplainDifference names how a binary built without the recipe
// differs, on a small program that builds in seconds.
func TestExplainDifference(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "go.mod", []byte("module example.com/tiny\n\ngo 1.26\n"))
	writeFile(t, dir, "main.go", []byte("package main\n\nfunc main() {}\n"))
	plain, recipe := filepath.Join(dir, "plain"), filepath.Join(dir, "recipe")
	cmd := exec.Command("go", "build", "-o", plain, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rec := firmware.Recipe{Version: "1", Toolchain: firmware.ReleaseToolchain}
	if err := rec.Build(context.Background(), dir, recipe, firmware.Target{Name: "tiny", Package: "."}, os.Environ()); err != nil {
		t.Fatal(err)
	}
	v, detail := explainDifference(plain, recipe)
	if v != digestDiffers || !strings.Contains(detail, "-trimpath missing") {
		t.Fatalf("plain go build against the recipe: %s %s", v, detail)
	}
	// The same binary as if built by another Go: its build info names
	// another toolchain (patched in place, same length).
	b, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte("\xff Go buildinf:"))
	ver := []byte(firmware.ReleaseToolchain)
	i := bytes.Index(b[at:], ver)
	if at < 0 || i < 0 {
		t.Fatalf("no build info with %s in the recipe binary", ver)
	}
	older := bytes.Clone(ver)
	older[len(older)-1]--
	copy(b[at+i:], older)
	patched := writeFile(t, dir, "older-go", b)
	if v, detail = explainDifference(patched, recipe); v != toolchainDiffers || !strings.Contains(detail, string(older)) {
		t.Fatalf("another Go: %s %s", v, detail)
	}
	if v, detail = explainDifference("", recipe); v != digestDiffers || !strings.Contains(detail, "--binary") {
		t.Fatalf("without --binary: %s %s", v, detail)
	}
}
