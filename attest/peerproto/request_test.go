package peerproto

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/internal/names"
)

func TestDecodeRequest(t *testing.T) {
	var e evidenceReq
	if err := decodeRequest(strings.NewReader(`{"from":"b","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`), &e); err != nil || e.From != "b" || len(e.Nonce) != 32 {
		t.Fatalf("good request: %+v %v", e, err)
	}
	for _, bad := range []string{
		`{"from":"b","nonce":"AAAA"}`, // short nonce
		`{"from":"","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`,
		`{"from":"b","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","x":1}`, // unknown field
		`{"from":"b","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="} {}`,    // trailing
		`[1,2]`, ``, `{"from":`,
	} {
		var e evidenceReq
		if err := decodeRequest(strings.NewReader(bad), &e); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	var f fromMsg
	if err := decodeRequest(strings.NewReader(`{"from":"`+strings.Repeat("x", 64)+`"}`), &f); !errors.Is(err, names.ErrBadBox) {
		t.Errorf("a 64-byte box name: %v, want the box-name rule's error", err)
	}
}

// FuzzDecodeRequest: protocol request bodies arrive from the network
// before any authentication; they must never panic the daemon.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"from":"b","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add([]byte(`{"from":"a"}`))
	f.Add([]byte(`{"from":"b","nonce":null}`))
	f.Add([]byte(`{"from":"\u0000","nonce":"!!"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e evidenceReq
		if err := decodeRequest(bytes.NewReader(b), &e); err == nil && (len(e.Nonce) < 16 || e.From == "") {
			t.Fatalf("accepted %+v", e)
		}
		var m fromMsg
		if err := decodeRequest(bytes.NewReader(b), &m); err == nil && m.From == "" {
			t.Fatal("accepted an empty from")
		}
	})
}
