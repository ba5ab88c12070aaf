package firmware

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
)

// Signer signs release metadata (manifests, SHA256SUMS) with the vendor
// key. It is an interface so that a PKCS#11 token or a KMS can hold the
// key; FileSigner, an Ed25519 PKCS#8 PEM file, serves today.
type Signer interface {
	// Public is the key that verifies the signatures.
	Public() crypto.PublicKey
	// Sign returns the raw signature over msg.
	Sign(msg []byte) ([]byte, error)
}

// FileSigner is an Ed25519 key read from a PKCS#8 PEM file.
type FileSigner struct{ key ed25519.PrivateKey }

// LoadFileSigner reads an Ed25519 private key in PKCS#8 PEM ("PRIVATE
// KEY"), as `openssl genpkey -algorithm ed25519` writes it.
func LoadFileSigner(path string) (*FileSigner, error) {
	data, err := readBounded(path, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM \"PRIVATE KEY\" block; write one with: openssl genpkey -algorithm ed25519 -out %s", path, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: a %T, not an Ed25519 key", path, k)
	}
	return &FileSigner{key: ed}, nil
}

// NewFileSigner wraps an Ed25519 private key.
func NewFileSigner(key ed25519.PrivateKey) *FileSigner { return &FileSigner{key: key} }

// Public implements Signer.
func (s *FileSigner) Public() crypto.PublicKey { return s.key.Public() }

// Sign implements Signer.
func (s *FileSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }

// DetachedSignature signs msg and returns the signature as written next to
// the signed file: base64 text and a newline, as VerifyDetached reads it.
func DetachedSignature(s Signer, msg []byte) ([]byte, error) {
	raw, err := s.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return []byte(base64.StdEncoding.EncodeToString(raw) + "\n"), nil
}

// SignManifestWith returns the canonical manifest JSON and its detached
// signature by s.
func SignManifestWith(m *Manifest, s Signer) (manifestJSON, sig []byte, err error) {
	manifestJSON, err = m.Canonical()
	if err != nil {
		return nil, nil, err
	}
	sig, err = DetachedSignature(s, manifestJSON)
	return manifestJSON, sig, err
}

// VerifyDetached checks a detached base64 Ed25519 signature over data
// under any of the vendor keys: nil, ErrManifestUnsigned or
// ErrManifestSignature.
func VerifyDetached(data, sig []byte, vendorKeys []ed25519.PublicKey) error {
	_, err := checkDetached(data, sig, vendorKeys)
	return err
}
