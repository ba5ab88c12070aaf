package firmware

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrNotPublicKey: the bytes are not an Ed25519 public key in a form
// wardgate reads.
var ErrNotPublicKey = errors.New("firmware: not an Ed25519 public key (want PEM PUBLIC KEY, or 32 bytes in hex or base64)")

// ParsePublicKey reads an Ed25519 public key as vendors and boxes hand them
// out: PEM "PUBLIC KEY" (PKIX), or the 32 raw bytes in hex or base64 on
// one line. Vendor keys, record keys and receiver keys all come this way.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotPublicKey, err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: the PEM key is %T", ErrNotPublicKey, k)
		}
		return ek, nil
	}
	if k, ok := ParseRawPublicKey(string(bytes.TrimSpace(b))); ok {
		return k, nil
	}
	return nil, ErrNotPublicKey
}

// ParseRawPublicKey reads 32 raw key bytes in hex or base64.
func ParseRawPublicKey(s string) (ed25519.PublicKey, bool) {
	if raw, err := hex.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return raw, true
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return raw, true
	}
	return nil, false
}
