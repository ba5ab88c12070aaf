package firmware

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ReleaseToolchain is the Go toolchain every release is built with. The
// recipe sets GOTOOLCHAIN to it, so a newer local Go switches to it (from
// the Go module proxy) rather than building a different binary.
const ReleaseToolchain = "go1.26.8"

// VersionVar is the linker symbol that carries the release version into
// wardgated, whose measurement reports it.
const VersionVar = "github.com/wardgate/wardgate/gateway.version"

// Release file names inside a dist/ directory.
const (
	SumsFile        = "SHA256SUMS"
	SumsSigFile     = "SHA256SUMS.sig"
	ReleaseFile     = "release.json"
	ManifestFile    = "manifest.json"
	ManifestSigFile = "manifest.sig"
)

// Target is one binary of a release.
type Target struct {
	Name    string // file name in dist/ and component name in the manifest
	Package string // package path relative to the source tree
	Cgo     bool   // wardgated links the cgo TPM simulator; the CLI must not
	PCR     int    // where the binary is measured (-1: not measured)
}

// ReleaseTargets are the binaries `make release` builds, in order.
var ReleaseTargets = []Target{
	{Name: DaemonComponent, Package: "./cmd/wardgated", Cgo: true, PCR: 8},
	{Name: "wardgate", Package: "./cmd/wardgate", Cgo: false, PCR: -1},
	// The NAT relay runs outside the hospitals (consortium cloud or one
	// hospital's DMZ); it is released, checksummed and SBOM'd like the
	// others, but nothing measures it: it is never trusted (docs/design.md).
	{Name: "wardgate-relay", Package: "./cmd/wardgate-relay", Cgo: false, PCR: -1},
}

// Recipe is the release build recipe: the one definition used by `make
// release`, the twice-build test and `wardgate firmware reproduce`.
// -trimpath drops the build directory, -buildvcs=false drops the checkout's
// VCS state and time, -buildid= drops the per-build ID, and the version is
// the only thing the linker is told.
type Recipe struct {
	Version   string `json:"version"`
	Toolchain string `json:"toolchain"`
}

// Flags are the go build arguments of the recipe, without -o and package.
func (r Recipe) Flags() []string {
	return []string{"-trimpath", "-buildvcs=false", "-ldflags", "-buildid= -X " + VersionVar + "=" + r.Version}
}

// Env is base with the recipe's settings; anything in base that would
// change the output (GOFLAGS, CGO_ENABLED, GOTOOLCHAIN) is replaced.
func (r Recipe) Env(base []string, t Target) []string {
	drop := []string{"GOFLAGS=", "CGO_ENABLED=", "GOTOOLCHAIN=", "GOOS=", "GOARCH=", "GOAMD64=", "CGO_CFLAGS=", "CGO_LDFLAGS="}
	var env []string
	for _, kv := range base {
		keep := true
		for _, d := range drop {
			if strings.HasPrefix(kv, d) {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	cgo := "0"
	if t.Cgo {
		cgo = "1"
	}
	return append(env, "GOTOOLCHAIN="+r.Toolchain, "CGO_ENABLED="+cgo, "GOFLAGS=-mod=readonly")
}

func (r Recipe) validate() error {
	if r.Version == "" || strings.ContainsAny(r.Version, " \t\n'\"") {
		return fmt.Errorf("release: version %q must be set and contain no spaces or quotes", r.Version)
	}
	if !strings.HasPrefix(r.Toolchain, "go1.") {
		return fmt.Errorf("release: toolchain %q is not a Go toolchain name such as %s", r.Toolchain, ReleaseToolchain)
	}
	return nil
}

// Build builds one target from the source tree into out with the recipe.
func (r Recipe) Build(ctx context.Context, src, out string, t Target, env []string) error {
	if err := r.validate(); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	args := append([]string{"build"}, r.Flags()...)
	args = append(args, "-o", abs, t.Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	cmd.Env = r.Env(env, t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("release: go build %s: %w\n%s", t.Package, err, stderr.String())
	}
	return nil
}

// GoVersion is the version of the Go toolchain the recipe resolves to in
// src with env (after any GOTOOLCHAIN switch).
func (r Recipe) GoVersion(ctx context.Context, src string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = src
	cmd.Env = r.Env(env, Target{})
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("release: go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Artifact is one file of a release with its digest.
type Artifact struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	SBOM   string `json:"sbom,omitempty"` // file name of its CycloneDX SBOM
}

// ReleaseInfo is dist/release.json: what was built, how, and with what.
type ReleaseInfo struct {
	Recipe    Recipe     `json:"recipe"`
	GoVersion string     `json:"go_version"`
	Flags     []string   `json:"go_build_flags"`
	Artifacts []Artifact `json:"artifacts"`
}

// HashFile is the SHA-256 (lower-case hex) and size of a file.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// WriteSums writes dir/SHA256SUMS over the named files, sorted, in the
// format sha256sum -c reads, and returns its bytes.
func WriteSums(dir string, names []string) ([]byte, error) {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	var b bytes.Buffer
	for _, n := range sorted {
		d, _, err := HashFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
		fmt.Fprintf(&b, "%s  %s\n", d, n)
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), b.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return b.Bytes(), nil
}

// ErrSums means a SHA256SUMS file is malformed.
var ErrSums = errors.New("release: malformed SHA256SUMS")

// ParseSums reads SHA256SUMS: file name to lower-case hex digest. Names
// must be plain file names (no directories), each listed once.
func ParseSums(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		digest, name, ok := strings.Cut(sc.Text(), "  ")
		d, err := hex.DecodeString(digest)
		switch {
		case !ok || err != nil || len(d) != 32 || digest != strings.ToLower(digest):
			return nil, fmt.Errorf("%w: line %d is not \"<64 hex>  <name>\"", ErrSums, line)
		case name == "" || name != filepath.Base(name) || name == "." || name == "..":
			return nil, fmt.Errorf("%w: line %d: %q is not a plain file name", ErrSums, line, name)
		case out[name] != "":
			return nil, fmt.Errorf("%w: line %d: %s is listed twice", ErrSums, line, name)
		}
		out[name] = digest
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrSums)
	}
	return out, sc.Err()
}

// WriteJSON writes v as indented JSON with a final newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
