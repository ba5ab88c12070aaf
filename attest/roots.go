package attest

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// EKFingerprint is the stable identity of an EK used in enrollment lists:
// "sha256:" and the hex SHA-256 of the EK public key's PKIX DER.
func EKFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("attest: EK fingerprint: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// LoadRoots reads every *.pem file in dir into a pool of trusted
// manufacturer roots.
func LoadRoots(dir string) (*x509.CertPool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("attest: no *.pem manufacturer roots in %s; copy the TPM vendors' EK CA certificates there", dir)
	}
	pool := x509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("attest: read root %s: %w", f, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("attest: %s holds no PEM certificate", f)
		}
	}
	return pool, nil
}
