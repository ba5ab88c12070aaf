package firmware

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDist writes a signed release directory by hand, with the files that
// BuildRelease writes (binaries here are bytes, not builds), and returns
// the vendor's public key.
func fakeDist(t *testing.T, dir string) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	s := NewFileSigner(priv)
	files := map[string]string{"wardgated": "daemon image", "wardgated.cdx.json": `{"bomFormat":"CycloneDX"}`, "wardgate": "cli image"}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, _, _ := HashFile(filepath.Join(dir, "wardgated"))
	sbom, _, _ := HashFile(filepath.Join(dir, "wardgated.cdx.json"))
	info := &ReleaseInfo{Recipe: Recipe{Version: "1.0.0", Toolchain: ReleaseToolchain},
		Artifacts: []Artifact{{Name: "wardgated", SHA256: bin, SBOM: "wardgated.cdx.json"}, {Name: "wardgate"}}}
	m := &Manifest{Vendor: "acme", Version: "1.0.0", Components: []Component{{Name: "wardgated", Version: "1.0.0", SHA256: bin, PCR: 8, SBOMSHA256: sbom}}}
	if err := writeReleaseFiles(ReleaseOptions{Out: dir, Signer: s}, info, m); err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestVerifyRelease(t *testing.T) {
	dir := t.TempDir()
	pub, _ := fakeDist(t, dir)
	v, err := VerifyRelease(dir, []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatalf("a signed release: %v", err)
	}
	if len(v.SBOMs) != 1 || v.SBOMs[0] != "wardgated.cdx.json" || len(v.Files) != 6 {
		t.Fatalf("checked %+v", v)
	}

	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := VerifyRelease(dir, []ed25519.PublicKey{other}); !errors.Is(err, ErrSumsSignature) {
		t.Fatalf("SHA256SUMS under another key: %v", err)
	}

	// A binary swapped after signing.
	bad := t.TempDir()
	pub, _ = fakeDist(t, bad)
	os.WriteFile(filepath.Join(bad, "wardgate"), []byte("trojan"), 0o644)
	if _, err := VerifyRelease(bad, []ed25519.PublicKey{pub}); !errors.Is(err, ErrSumMismatch) || !strings.Contains(err.Error(), "wardgate is") {
		t.Fatalf("swapped binary: %v", err)
	}

	// An SBOM replaced and re-summed by someone with the key, but the
	// manifest still names the old SBOM digest.
	unlinked := t.TempDir()
	pub, _ = fakeDist(t, unlinked)
	os.WriteFile(filepath.Join(unlinked, "wardgated.cdx.json"), []byte(`{"bomFormat":"CycloneDX","components":[]}`), 0o644)
	sums, _ := os.ReadFile(filepath.Join(unlinked, SumsFile))
	names, _ := ParseSums(sums)
	var list []string
	for n := range names {
		list = append(list, n)
	}
	b, err := WriteSums(unlinked, list)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	SignSums(unlinked, NewFileSigner(priv), b)
	if _, err := VerifyRelease(unlinked, []ed25519.PublicKey{pub, priv.Public().(ed25519.PublicKey)}); !errors.Is(err, ErrSBOMUnlinked) {
		t.Fatalf("SBOM not the one the manifest names: %v", err)
	}

	// A manifest (signed by the vendor) that approves another wardgated
	// than the one released.
	otherDir := t.TempDir()
	pub, priv2 := fakeDist(t, otherDir)
	m := &Manifest{Vendor: "acme", Version: "1.0.0", Components: []Component{{Name: "wardgated", Version: "1.0.0", SHA256: strings.Repeat("cd", 32), PCR: 8}}}
	mj, sig, _ := SignManifest(m, priv2)
	os.WriteFile(filepath.Join(otherDir, ManifestFile), mj, 0o644)
	os.WriteFile(filepath.Join(otherDir, ManifestSigFile), sig, 0o644)
	sums, _ = os.ReadFile(filepath.Join(otherDir, SumsFile))
	names, _ = ParseSums(sums)
	list = list[:0]
	for n := range names {
		list = append(list, n)
	}
	b, _ = WriteSums(otherDir, list)
	SignSums(otherDir, NewFileSigner(priv2), b)
	if _, err := VerifyRelease(otherDir, []ed25519.PublicKey{pub}); !errors.Is(err, ErrSumMismatch) || !strings.Contains(err.Error(), "not this release's binary") {
		t.Fatalf("manifest approving another binary: %v", err)
	}

	// Unsigned.
	os.Remove(filepath.Join(dir, SumsSigFile))
	if _, err := VerifyRelease(dir, []ed25519.PublicKey{pub}); !errors.Is(err, ErrManifestUnsigned) {
		t.Fatalf("unsigned SHA256SUMS: %v", err)
	}
}

func TestParseSums(t *testing.T) {
	d := strings.Repeat("ab", 32)
	for _, bad := range []string{"", d + " one-space", d + "  ../up", d + "  a/b", strings.ToUpper(d) + "  x", d + "  x\n" + d + "  x"} {
		if _, err := ParseSums([]byte(bad)); !errors.Is(err, ErrSums) {
			t.Errorf("ParseSums(%q) = %v, want ErrSums", bad, err)
		}
	}
	m, err := ParseSums([]byte(d + "  wardgated\n"))
	if err != nil || m["wardgated"] != d {
		t.Fatalf("%v %v", m, err)
	}
}

func TestManifestSBOMDigestValidated(t *testing.T) {
	c := Component{Name: "wardgated", Version: "1", SHA256: strings.Repeat("ab", 32), PCR: 8, SBOMSHA256: "not-hex"}
	_, err := (&Manifest{Vendor: "v", Version: "1", Components: []Component{c}}).Canonical()
	if !errors.Is(err, ErrManifestInvalid) || !strings.Contains(err.Error(), "sbom_sha256") {
		t.Fatalf("bad sbom_sha256: %v", err)
	}
	// Manifests without SBOM digests keep their canonical bytes.
	c.SBOMSHA256 = ""
	b, err := (&Manifest{Vendor: "v", Version: "1", Components: []Component{c}}).Canonical()
	if err != nil || strings.Contains(string(b), "sbom") {
		t.Fatalf("%s %v", b, err)
	}
}

func FuzzParseSums(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32) + "  wardgated\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSums(b)
		if err == nil && len(m) == 0 {
			t.Fatal("no error and no entries")
		}
	})
}
