package devtpm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/internal/atomicfile"
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
		return nil, fmt.Errorf("devtpm: dev CA in %s is incomplete (need both %s and %s): %w", dir, caCertFile, caKeyFile, errors.Join(cerr, kerr))
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
		return nil, fmt.Errorf("devtpm: create dev CA: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devtpm: create dev CA dir: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := atomicfile.Write(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("devtpm: write dev CA key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, caCertFile), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("devtpm: write dev CA cert: %w", err)
	}
	return parseDevCA(certPEM, keyPEM)
}

func parseDevCA(certPEM, keyPEM []byte) (*DevCA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("devtpm: dev CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devtpm: dev CA cert: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devtpm: dev CA key: %w", err)
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
func (ca *DevCA) ProvisionEK(ctx context.Context, t attest.TPM) error {
	pub, err := attest.EKPublic(ctx, t)
	if err != nil {
		return fmt.Errorf("devtpm: provision EK: %w", err)
	}
	fp, err := attest.EKFingerprint(pub)
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
		return fmt.Errorf("devtpm: provision EK: issue certificate: %w", err)
	}
	if err := attest.WriteEKCertificate(ctx, t, der); err != nil {
		return fmt.Errorf("devtpm: provision EK: %w", err)
	}
	return nil
}
