package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The CLI is what an auditor installs to run `wardgate verify` on their own
// machine. It must not carry an Ethereum node or the cgo TPM simulator: they
// are megabytes of code an auditor has no use for, and cgo would tie the
// binary to a C toolchain and libssl. These tests keep it that way.

const module = "github.com/wardgate/wardgate"

// bannedFromCLI are the packages `wardgate` must never link. ethclient (for
// `verify --rpc`) is fine: it is a JSON-RPC client, not a node.
var bannedFromCLI = []string{
	"github.com/ethereum/go-ethereum/node",
	"github.com/ethereum/go-ethereum/p2p",
	"github.com/ethereum/go-ethereum/eth",
	"github.com/google/go-tpm-tools/simulator",
}

// listedPackage is the part of `go list -json` these tests read.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Standard   bool
	Error      *struct{ Err string }
}

// goList runs `go list -json` with args and decodes its stream of packages.
func goList(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs
		} else if err != nil {
			t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
		}
		pkgs = append(pkgs, p)
	}
}

func TestCLILinksNoNodeNoSimulator(t *testing.T) {
	deps := goList(t, "-deps", ".")
	byPath := map[string]listedPackage{}
	for _, p := range deps {
		byPath[p.ImportPath] = p
	}
	t.Logf("wardgate links %d packages (753 before the layout of issue 13)", len(deps))
	for _, banned := range bannedFromCLI {
		if _, ok := byPath[banned]; ok {
			t.Errorf("wardgate links %s: %s", banned, strings.Join(importChain(byPath, module+"/cmd/wardgate", banned), " -> "))
		}
	}
}

// importChain is one shortest import path from root to target, to say in
// the failure which import to cut.
func importChain(pkgs map[string]listedPackage, root, target string) []string {
	parent := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == target {
			var chain []string
			for ; p != ""; p = parent[p] {
				chain = append(chain, strings.TrimPrefix(p, module+"/"))
			}
			slices.Reverse(chain)
			return chain
		}
		for _, imp := range pkgs[p].Imports {
			if _, seen := parent[imp]; !seen {
				parent[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return []string{root, "?", target}
}

// devtpmImporters may import attest/devtpm from non-test code: the package
// itself, the gateway (which picks the TPM source from the config), and the
// dev and test tooling. The value says whether subpackages may too. Test
// files are not in `go list`'s Imports and are always allowed.
var devtpmImporters = map[string]bool{
	"attest/devtpm":          true,
	"attest/attesttest":      false, // fixtures imported only by other packages' tests
	"gateway":                false,
	"internal/devconsortium": false,
	"integration":            true,
}

func devtpmAllowed(pkg string) bool {
	rel := strings.TrimPrefix(pkg, module+"/")
	for dir, subpackages := range devtpmImporters {
		if rel == dir || subpackages && strings.HasPrefix(rel, dir+"/") {
			return true
		}
	}
	return false
}

func TestDevTPMImportedOnlyByDevTooling(t *testing.T) {
	devtpm := module + "/attest/devtpm"
	for _, p := range goList(t, "-e", module+"/...") {
		if p.Error != nil {
			// A package another change is in the middle of moving; the
			// build and its own tests report it.
			t.Logf("%s: %s", p.ImportPath, p.Error.Err)
		}
		if slices.Contains(p.Imports, devtpm) && !devtpmAllowed(p.ImportPath) {
			t.Errorf("%s imports %s; only tests and dev tooling may (the simulator is cgo and must stay out of the CLI)",
				strings.TrimPrefix(p.ImportPath, module+"/"), devtpm)
		}
	}
}

// TestCLIBuildsWithoutCgo builds the CLI as an auditor's machine without a
// C toolchain would, and reports its size.
func TestCLIBuildsWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "wardgate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/wardgate: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wardgate without cgo: %d bytes (45,207,728 with cgo before the layout of issue 13)", fi.Size())
}
