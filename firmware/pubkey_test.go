package firmware

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"testing"
)

// Every form a key is handed out in reads back as the same key; anything
// else is refused with ErrNotPublicKey.
func TestParsePublicKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"pem":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"hex":    []byte(hex.EncodeToString(pub) + "\n"),
		"base64": []byte(base64.StdEncoding.EncodeToString(pub)),
	}
	for name, b := range forms {
		k, err := ParsePublicKey(b)
		if err != nil || !k.Equal(pub) {
			t.Errorf("%s: got %x, %v", name, k, err)
		}
	}
	for name, b := range map[string][]byte{
		"short hex": []byte(hex.EncodeToString(pub[:31])),
		"garbage":   []byte("not a key"),
		"bad pem":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrNotPublicKey) {
			t.Errorf("%s: err %v, want ErrNotPublicKey", name, err)
		}
	}
}
