package testutil

import (
	"bytes"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// minNeedle is the shortest base64 piece looked for.
const minNeedle = 16

// RestNeedles are the byte strings that betray secret s at rest: s itself
// and every part of its base64 that does not depend on the bytes around
// it, for each of the three alignments, in the standard and URL alphabets
// (pieces shorter than minNeedle are left out: use secrets of 16 bytes
// or more).
func RestNeedles(s string) [][]byte {
	out := [][]byte{[]byte(s)}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for k := 0; k < 3; k++ {
			b := enc.EncodeToString(append(make([]byte, k), s...))
			start := 0
			if k > 0 {
				start = 4 // the first group mixes in the bytes before s
			}
			end := (k + len(s)) / 3 * 4 // the last group made of s's bytes only
			// Shorter pieces would turn up by chance in binary files.
			if end-start >= minNeedle {
				out = append(out, []byte(b[start:end]))
			}
		}
	}
	return out
}

// NoneAtRest fails t for every regular file under dirs that holds one of
// secrets, raw or in base64, and returns how many files it read.
func NoneAtRest(t testing.TB, secrets []string, dirs ...string) int {
	t.Helper()
	var all [][]byte
	for _, s := range secrets {
		all = append(all, RestNeedles(s)...)
	}
	n := 0
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			n++
			for _, nd := range all {
				if bytes.Contains(b, nd) {
					t.Errorf("record data at rest in %s: holds %q", path, nd)
					break
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}
