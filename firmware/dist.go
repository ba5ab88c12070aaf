package firmware

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// ReleaseOptions say what BuildRelease builds and where.
type ReleaseOptions struct {
	Source   string   // the source tree (a checkout or an unpacked tarball)
	Out      string   // dist/ directory; created, and emptied of release files
	Recipe   Recipe   //
	Vendor   string   // the manifest's vendor name
	SBOMTool string   // path of cyclonedx-gomod; empty: no SBOMs
	Env      []string // base environment (os.Environ() plus caches)
	Signer   Signer   // signs manifest and SHA256SUMS; nil: unsigned
}

// BuildRelease builds every release target with the recipe, writes an
// SBOM for each (when SBOMTool is set), the manifest entry for the
// measured binaries (naming their SBOM digests), release.json and
// SHA256SUMS, and signs the manifest and SHA256SUMS when a Signer is given.
func BuildRelease(ctx context.Context, o ReleaseOptions) (*ReleaseInfo, error) {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	gov, err := o.Recipe.GoVersion(ctx, o.Source, o.Env)
	if err != nil {
		return nil, err
	}
	info := &ReleaseInfo{Recipe: o.Recipe, GoVersion: gov, Flags: o.Recipe.Flags()}
	m := &Manifest{Vendor: o.Vendor, Version: o.Recipe.Version}
	for _, t := range ReleaseTargets {
		a, err := buildArtifact(ctx, o, t)
		if err != nil {
			return nil, err
		}
		info.Artifacts = append(info.Artifacts, a)
		if t.PCR >= 0 {
			c := Component{Name: t.Name, Version: o.Recipe.Version, SHA256: a.SHA256, PCR: t.PCR}
			if a.SBOM != "" {
				c.SBOMSHA256, _, err = HashFile(filepath.Join(o.Out, a.SBOM))
				if err != nil {
					return nil, fmt.Errorf("release: %w", err)
				}
			}
			m.Components = append(m.Components, c)
		}
	}
	if err := writeReleaseFiles(o, info, m); err != nil {
		return nil, err
	}
	return info, nil
}

// buildArtifact builds one target and its SBOM into o.Out.
func buildArtifact(ctx context.Context, o ReleaseOptions, t Target) (Artifact, error) {
	bin := filepath.Join(o.Out, t.Name)
	if err := o.Recipe.Build(ctx, o.Source, bin, t, o.Env); err != nil {
		return Artifact{}, err
	}
	d, n, err := HashFile(bin)
	if err != nil {
		return Artifact{}, fmt.Errorf("release: %w", err)
	}
	a := Artifact{Name: t.Name, SHA256: d, Size: n}
	if o.SBOMTool != "" {
		a.SBOM = t.Name + ".cdx.json"
		if err := writeSBOM(ctx, o, bin, filepath.Join(o.Out, a.SBOM)); err != nil {
			return Artifact{}, err
		}
	}
	return a, nil
}

// writeSBOM runs cyclonedx-gomod on the built binary: the SBOM lists what
// the binary itself embeds, with no serial number or timestamp, so that it
// is as reproducible as the binary.
func writeSBOM(ctx context.Context, o ReleaseOptions, bin, out string) error {
	cmd := exec.CommandContext(ctx, o.SBOMTool, "bin", "-json", "-noserial", "-notimestamp", "-std",
		"-version", o.Recipe.Version, "-output", out, bin)
	cmd.Env = o.Recipe.Env(o.Env, Target{})
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("release: SBOM of %s: %w\n%s", filepath.Base(bin), err, b)
	}
	return nil
}

// writeReleaseFiles writes the manifest (signed when a Signer is set),
// release.json, then SHA256SUMS over everything and its signature.
func writeReleaseFiles(o ReleaseOptions, info *ReleaseInfo, m *Manifest) error {
	mj, err := m.Canonical()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Out, ManifestFile), mj, 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := WriteJSON(filepath.Join(o.Out, ReleaseFile), info); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if o.Signer != nil {
		sig, err := DetachedSignature(o.Signer, mj)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(o.Out, ManifestSigFile), sig, 0o644); err != nil {
			return fmt.Errorf("release: %w", err)
		}
	}
	names := []string{ManifestFile, ReleaseFile}
	if o.Signer != nil {
		names = append(names, ManifestSigFile)
	}
	for _, a := range info.Artifacts {
		names = append(names, a.Name)
		if a.SBOM != "" {
			names = append(names, a.SBOM)
		}
	}
	sums, err := WriteSums(o.Out, names)
	if err != nil {
		return err
	}
	if o.Signer == nil {
		return nil
	}
	return SignSums(o.Out, o.Signer, sums)
}

// SignSums writes dir/SHA256SUMS.sig over sums.
func SignSums(dir string, s Signer, sums []byte) error {
	sig, err := DetachedSignature(s, sums)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SumsSigFile), sig, 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// Named release verification failures.
var (
	ErrSumMismatch   = errors.New("release: checksum mismatch")
	ErrSumsSignature = errors.New("release: SHA256SUMS signature does not verify")
	ErrSBOMUnlinked  = errors.New("release: SBOM not linked in the manifest")
)

// VerifiedRelease is what VerifyRelease checked.
type VerifiedRelease struct {
	Files    []string  `json:"files"` // every file in SHA256SUMS, checked
	Manifest *Manifest `json:"manifest"`
	SBOMs    []string  `json:"sboms"` // SBOMs whose digest the manifest names
}

// VerifyRelease checks a dist/ directory: the signature of SHA256SUMS
// under a vendor key, every checksum in it, the manifest's signature, and
// that each measured binary's manifest entry names its SBOM's digest.
func VerifyRelease(dir string, vendorKeys []ed25519.PublicKey) (*VerifiedRelease, error) {
	sums, err := readBounded(filepath.Join(dir, SumsFile), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	sig, err := readBounded(filepath.Join(dir, SumsSigFile), 4096)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: %s does not exist; sign the release with `wardgate release sign`", SumsFile, ErrManifestUnsigned, SumsSigFile)
	}
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	if err := VerifyDetached(sums, sig, vendorKeys); err != nil {
		return nil, fmt.Errorf("%w: %s is not a signature over %s by any --vendor-key", ErrSumsSignature, SumsSigFile, SumsFile)
	}
	want, err := ParseSums(sums)
	if err != nil {
		return nil, err
	}
	out := &VerifiedRelease{}
	for name, d := range want {
		got, _, err := HashFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
		if got != d {
			return nil, fmt.Errorf("%w: %s is %s, SHA256SUMS says %s", ErrSumMismatch, name, got, d)
		}
		out.Files = append(out.Files, name)
	}
	sort.Strings(out.Files)
	if out.Manifest, err = LoadManifest(filepath.Join(dir, ManifestFile), filepath.Join(dir, ManifestSigFile), vendorKeys); err != nil {
		return nil, err
	}
	if out.SBOMs, err = checkSBOMLinks(dir, want, out.Manifest); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSBOMLinks ties each measured artifact of release.json to its
// manifest entry: same binary digest, and the SBOM digest named.
func checkSBOMLinks(dir string, sums map[string]string, m *Manifest) ([]string, error) {
	b, err := readBounded(filepath.Join(dir, ReleaseFile), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	var info ReleaseInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("release: %s: %w", ReleaseFile, err)
	}
	var linked []string
	for _, a := range info.Artifacts {
		if a.SBOM == "" {
			continue
		}
		sbom, ok := sums[a.SBOM]
		if !ok {
			return nil, fmt.Errorf("%w: %s is not in SHA256SUMS", ErrSBOMUnlinked, a.SBOM)
		}
		named, approved := false, false
		for _, c := range m.Components {
			if c.Name != a.Name {
				continue
			}
			named = true
			if c.SHA256 != sums[a.Name] {
				continue
			}
			approved = true
			if c.SBOMSHA256 != sbom {
				return nil, fmt.Errorf("%w: %s %s names SBOM %q, but %s is %s", ErrSBOMUnlinked, c.Name, c.Version, c.SBOMSHA256, a.SBOM, sbom)
			}
			linked = append(linked, a.SBOM)
		}
		if named && !approved {
			return nil, fmt.Errorf("%w: the manifest lists %s, but not this release's binary %s", ErrSumMismatch, a.Name, sums[a.Name])
		}
	}
	return linked, nil
}
