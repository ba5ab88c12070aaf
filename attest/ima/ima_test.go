package ima

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

func sample() []Entry {
	return []Entry{
		New("/usr/sbin/wardgated", sha256.Sum256([]byte("wardgated"))),
		New("/boot/kernel.bin", sha256.Sum256([]byte("kernel"))),
	}
}

func TestRoundTrip(t *testing.T) {
	es := sample()
	got, err := Parse(Marshal(es))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != es[0] || got[1] != es[1] {
		t.Fatalf("round trip: %+v", got)
	}
}

// TestKernelLayout pins the byte layout against a hand-built entry: the
// kernel's format, not just our own round trip.
func TestKernelLayout(t *testing.T) {
	e := New("/a", [32]byte{1})
	b := e.Marshal(nil)
	want := []byte{10, 0, 0, 0}
	want = append(want, e.TemplateHash[:]...)
	want = append(want, 6, 0, 0, 0)
	want = append(want, "ima-ng"...)
	want = append(want, 4+8+32+4+3, 0, 0, 0)
	want = append(want, 8+32, 0, 0, 0)
	want = append(want, "sha256:\x00"...)
	want = append(want, e.Digest[:]...)
	want = append(want, 3, 0, 0, 0, '/', 'a', 0)
	if !bytes.Equal(b, want) {
		t.Fatalf("layout\n got %x\nwant %x", b, want)
	}
}

func TestParseRefuses(t *testing.T) {
	good := Marshal(sample())
	cases := map[string][]byte{
		"truncated":      good[:len(good)-3],
		"bad hash":       append([]byte{}, good...),
		"huge length":    append(append([]byte{}, good[:24]...), 0xff, 0xff, 0xff, 0x7f),
		"other template": bytes.Replace(append([]byte{}, good...), []byte("ima-ng"), []byte("ima-xx"), 1),
	}
	cases["bad hash"][5] ^= 1
	for name, raw := range cases {
		if _, err := Parse(raw); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestReplay(t *testing.T) {
	es := sample()
	var pcr [32]byte
	for _, e := range es {
		pcr = Extend(pcr, e.ExtendDigest())
	}
	if n := Replay([32]byte{}, es, pcr); n != 2 {
		t.Fatalf("replay = %d, want 2", n)
	}
	if n := Replay([32]byte{}, []Entry{es[1], es[0]}, pcr); n != -1 {
		t.Fatalf("reordered replay = %d, want -1", n)
	}
	if n := Replay([32]byte{}, es[:1], pcr); n != -1 {
		t.Fatalf("truncated replay = %d, want -1", n)
	}
	// A list read after the quote may run ahead of it.
	extra := append(es, New("/x", [32]byte{9}))
	if n := Replay([32]byte{}, extra, pcr); n != 2 {
		t.Fatalf("replay with a later entry = %d, want 2", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Marshal(sample()))
	f.Add([]byte{})
	f.Add([]byte{10, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		es, err := Parse(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(Marshal(es), raw) {
			t.Fatalf("parsed list does not re-encode to its input")
		}
	})
}
