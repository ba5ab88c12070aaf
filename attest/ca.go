package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DevCA is a development "manufacturer" CA that issues EK certificates for
// simulated TPMs, standing in for a TPM vendor's EK CA.
type DevCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

// NewDevCA loads dir/ca.pem and dir/ca-key.pem, creating them on first use.
func NewDevCA(dir string) (*DevCA, error) {
	certPEM, cerr := os.ReadFile(filepath.Join(dir, caCertFile))
	keyPEM, kerr := os.ReadFile(filepath.Join(dir, caKeyFile))
	if cerr == nil && kerr == nil {
		return parseDevCA(certPEM, keyPEM)
	}
	if !errors.Is(cerr, os.ErrNotExist) || !errors.Is(kerr, os.ErrNotExist) {
		return nil, fmt.Errorf("attest: dev CA in %s is incomplete (need both %s and %s): %v", dir, caCertFile, caKeyFile, errors.Join(cerr, kerr))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{Organization: []string{"wardgate development"}, CommonName: "wardgate dev TPM manufacturer CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(30, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("attest: create dev CA: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("attest: create dev CA dir: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := writeFileAtomic(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("attest: write dev CA key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, caCertFile), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("attest: write dev CA cert: %w", err)
	}
	return parseDevCA(certPEM, keyPEM)
}

func parseDevCA(certPEM, keyPEM []byte) (*DevCA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("attest: dev CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("attest: dev CA cert: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("attest: dev CA key: %w", err)
	}
	return &DevCA{cert: cert, key: key}, nil
}

func randSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// Certificate is the CA certificate (what verifiers put in their roots).
func (ca *DevCA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM is the CA certificate in PEM, for a roots directory.
func (ca *DevCA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// Roots is a pool holding only this CA.
func (ca *DevCA) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ProvisionEK issues a certificate for the TPM's RSA EK and writes it into
// the TCG EK-certificate NV index, so go-attestation's EKCertificates()
// returns it like a vendor-provisioned one.
func (ca *DevCA) ProvisionEK(ctx context.Context, t TPM) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := t.conn()
	defer c.lock()()
	eks, err := c.at.EKs()
	if err != nil {
		return fmt.Errorf("attest: provision EK: read EK: %w", err)
	}
	if len(eks) == 0 {
		return errors.New("attest: provision EK: TPM has no RSA EK")
	}
	pub := eks[0].Public
	fp, err := EKFingerprint(pub)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{Organization: []string{"wardgate development"}, CommonName: "EK " + strings.TrimPrefix(fp, "sha256:")[:16]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return fmt.Errorf("attest: provision EK: issue certificate: %w", err)
	}
	if err := writeNV(c.rw, ekCertIndex, der); err != nil {
		return fmt.Errorf("attest: provision EK: %w", err)
	}
	if c.persistNV != nil {
		if err := c.persistNV(ekCertIndex, der); err != nil {
			return fmt.Errorf("attest: provision EK: persist NV copy: %w", err)
		}
	}
	return nil
}

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
