package proof

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Signer is the box's record-signing key. It is narrow on purpose: the
// attestation code binds this key into the TPM quote, and may later back it
// with a TPM-resident key.
type Signer interface {
	Public() ed25519.PublicKey
	Sign(msg []byte) ([]byte, error)
}

// KeySigner is a Signer backed by an in-memory Ed25519 private key.
type KeySigner struct{ key ed25519.PrivateKey }

// NewKeySigner wraps an Ed25519 private key.
func NewKeySigner(key ed25519.PrivateKey) (*KeySigner, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("proof: record key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	return &KeySigner{key: key}, nil
}

func (s *KeySigner) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

func (s *KeySigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }

// ErrBadSignature is returned when an entry or checkpoint signature does not verify.
var ErrBadSignature = errors.New("proof: bad signature")
