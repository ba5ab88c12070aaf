package firmware

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// tinyModule writes a small main package at dir: a stand-in for
// wardgated that builds in seconds, so the recipe's own properties are
// checked on every `go test ./firmware` (TestReleaseReproducible in
// cmd/wardgate does the real binaries).
func tinyModule(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  "module example.com/tiny\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"tiny\") }\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecipeReproducibleAcrossDirs builds the same source from two paths
// with two empty build caches: the digests must match.
func TestRecipeReproducibleAcrossDirs(t *testing.T) {
	root := t.TempDir()
	rec := Recipe{Version: "1.0.0", Toolchain: ReleaseToolchain}
	tgt := Target{Name: "tiny", Package: "."}
	var digests []string
	for _, d := range []string{"a/src", "b/some/other/path"} {
		src := filepath.Join(root, d)
		tinyModule(t, src)
		env := append(os.Environ(), "GOCACHE="+filepath.Join(root, d, ".gocache"), "GOPROXY=off")
		out := filepath.Join(root, d, "tiny.bin")
		if err := rec.Build(context.Background(), src, out, tgt, env); err != nil {
			t.Fatal(err)
		}
		dg, _, err := HashFile(out)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, dg)
	}
	if digests[0] != digests[1] {
		t.Fatalf("same source, two directories: %s != %s", digests[0], digests[1])
	}
}

func TestRecipeRefusesBadInput(t *testing.T) {
	for _, r := range []Recipe{{Version: "", Toolchain: ReleaseToolchain}, {Version: "1 2", Toolchain: ReleaseToolchain}, {Version: "1", Toolchain: "1.26"}} {
		if err := r.Build(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "x"), Target{Package: "."}, nil); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}
