package relay

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Type: TypePacket, Box: "hospital-b", Payload: []byte("wg")},
		{Type: TypeOpen, Box: "a", Stream: 7},
		{Type: TypeData, Box: "hospital-a", Stream: 1 << 31, Payload: bytes.Repeat([]byte{1}, MaxPayload)},
		{Type: TypeWindow, Box: "b", Stream: 3, Payload: []byte{0, 0, 1, 0}},
	} {
		b, err := AppendFrame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := ReadFrame(bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("%v: %v", f.Type, err)
		}
		if got.Type != f.Type || got.Box != f.Box || got.Stream != f.Stream || !bytes.Equal(got.Payload, f.Payload) {
			t.Fatalf("round trip of %v: got %+v", f.Type, got)
		}
	}
}

func TestFrameRefusesBadInput(t *testing.T) {
	good, _ := AppendFrame(nil, Frame{Type: TypeData, Box: "hospital-b", Stream: 1, Payload: []byte("x")})
	cases := map[string][]byte{
		"length too large": {0xff, 0xff, 0xff, 0xff},
		"length too small": {0, 0, 0, 2, 1, 0},
		"unknown type":     append([]byte{0, 0, 0, 7, 9, 1, 'a'}, 0, 0, 0, 0),
		"name overrun":     append([]byte{0, 0, 0, 6, 1, 60}, 0, 0, 0, 0),
		"bad name":         append([]byte{0, 0, 0, 8, 1, 2, 'A', '-'}, 0, 0, 0, 0),
		"short window":     append([]byte{0, 0, 0, 8, 5, 1, 'a'}, 0, 0, 0, 0, 1),
	}
	for name, b := range cases {
		_, _, err := ReadFrame(bytes.NewReader(b), nil)
		if !errors.Is(err, ErrFrame) {
			t.Errorf("%s: err %v, want ErrFrame", name, err)
		}
	}
	if _, _, err := ReadFrame(bytes.NewReader(good[:len(good)-1]), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated frame: err %v", err)
	}
	if _, err := AppendFrame(nil, Frame{Type: TypeData, Box: "b", Payload: make([]byte, MaxPayload+1)}); err == nil || !strings.Contains(err.Error(), "payload") {
		t.Errorf("oversized payload: err %v", err)
	}
}

func FuzzReadRelayFrame(f *testing.F) {
	for _, fr := range []Frame{
		{Type: TypePacket, Box: "hospital-b", Payload: []byte{1, 0, 0, 0}},
		{Type: TypeClose, Box: "a", Stream: 9, Payload: []byte("reset")},
		{Type: TypeWindow, Box: "b", Stream: 3, Payload: []byte{0, 0, 1, 0}},
	} {
		b, _ := AppendFrame(nil, fr)
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		var buf []byte
		for {
			fr, nb, err := ReadFrame(r, buf)
			buf = nb
			if err != nil {
				return
			}
			if cap(buf) > MaxFrame {
				t.Fatalf("buffer grew to %d", cap(buf))
			}
			out, err := AppendFrame(nil, fr)
			if err != nil {
				t.Fatalf("a parsed frame does not encode: %v", err)
			}
			again, _, err := ReadFrame(bytes.NewReader(out), nil)
			if err != nil || again.Box != fr.Box || !bytes.Equal(again.Payload, fr.Payload) {
				t.Fatalf("re-encoded frame differs: %v", err)
			}
		}
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestFrameLengthBoundsMemory: a frame announcing more than MaxFrame is
// refused from its length alone, before its body is read or buffered.
func TestFrameLengthBoundsMemory(t *testing.T) {
	b := []byte{0, 0, 0, 0}
	n := MaxFrame + 1
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	body := append([]byte{byte(TypeData), 1, 'a', 0, 0, 0, 0}, make([]byte, n-7)...)
	r := &countingReader{r: bytes.NewReader(append(b, body...))}
	_, buf, err := ReadFrame(r, nil)
	if !errors.Is(err, ErrFrame) {
		t.Fatalf("oversized frame: err %v", err)
	}
	if r.n != 4 || cap(buf) != 0 {
		t.Fatalf("read %d bytes and buffered %d of an oversized frame; want only its 4-byte length", r.n, cap(buf))
	}
}
