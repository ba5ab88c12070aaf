package attest_test

import (
	"bytes"
	"testing"

	"github.com/wardgate/wardgate/attest"
)

// TestCheckChannel: the quoted nonce must be the round's own (an unbound
// answer, left to the transport) or the round's nonce bound to the
// verifier's own TLS session; bound to any other session it is refused by
// name, which is what a TLS-terminating man in the middle causes.
func TestCheckChannel(t *testing.T) {
	round := bytes.Repeat([]byte{1}, 32)
	mine := bytes.Repeat([]byte{2}, 32)  // the verifier's session exporter
	other := bytes.Repeat([]byte{3}, 32) // the box's session with a proxy
	cases := []struct {
		name     string
		quoted   []byte
		channel  []byte
		want     string
		wantLeaf []byte
	}{
		{"bound to my session", attest.ChannelNonce(round, mine), mine, "", attest.ChannelNonce(round, mine)},
		{"bound to another session", attest.ChannelNonce(round, other), mine, attest.ReasonChannelBinding, nil},
		{"another round bound to my session", attest.ChannelNonce(bytes.Repeat([]byte{4}, 32), mine), mine, attest.ReasonChannelBinding, nil},
		{"unbound answer", round, mine, "", round},
		{"no transport binding", round, nil, "", round},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			leaf, answered, r := attest.CheckChannel(round, &attest.Evidence{Nonce: c.quoted, Channel: c.channel})
			wantReason(t, r, c.want)
			if c.want == "" && (!bytes.Equal(leaf, c.wantLeaf) || !bytes.Equal(answered, round)) {
				t.Fatalf("leaf %x answered %x, want leaf %x answering the round", leaf, answered, c.wantLeaf)
			}
		})
	}
}
