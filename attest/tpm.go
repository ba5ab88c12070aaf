package attest

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"sync"

	gattest "github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"

	"github.com/wardgate/wardgate/firmware"
)

// TPM is a TPM 2.0 opened by OpenDevice or, over any other transport, by
// OpenTransport (attest/devtpm does so for the simulator and swtpm).
// Nothing above this interface knows which kind it is.
type TPM interface {
	// Kind is the Transport's Kind: "simulator", "swtpm" or "device".
	Kind() string
	// Seal encrypts secret (at most 128 bytes) under a key of this TPM with
	// a policy on the current values of the boot PCRs (DefaultPCRs).
	Seal(ctx context.Context, secret []byte) ([]byte, error)
	// Unseal recovers a sealed secret. It fails with ErrUnseal if the PCRs
	// differ from when it was sealed or the blob is from another TPM.
	Unseal(ctx context.Context, blob []byte) ([]byte, error)
	// ExtendPCR extends a PCR in the SHA-256 bank (firmware playback).
	ExtendPCR(ctx context.Context, index int, digest []byte) error
	// Close releases the TPM.
	Close() error

	conn() *tpmConn
}

// ErrUnseal means a sealed blob could not be unsealed: the boot PCRs changed
// or the blob was sealed by another TPM.
var ErrUnseal = errors.New("attest: unseal refused by the TPM (boot state changed or blob from another TPM)")

// DefaultPCRs are the boot PCRs quoted in evidence and used for sealing.
func DefaultPCRs() []int { return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} }

// Handles of the keys this package keeps in a TPM.
const (
	ekCertIndex = 0x01c00002 // TCG: RSA 2048 EK certificate NV index
	akParent    = 0x81000002 // ECC storage root key for the AK
)

// tpmConn is the one implementation of TPM; kinds differ only in transport.
type tpmConn struct {
	kind string
	mu   sync.Mutex // one command sequence at a time
	rw   io.ReadWriter
	at   *gattest.TPM

	measurementLog func() ([]byte, error)
	saveEKCert     func(der []byte) error
	closer         func() error
	closed         bool
}

func (c *tpmConn) Kind() string   { return c.kind }
func (c *tpmConn) conn() *tpmConn { return c }
func (c *tpmConn) lock() func()   { c.mu.Lock(); return c.mu.Unlock }
func (c *tpmConn) String() string { return "tpm(" + c.kind + ")" }
func (c *tpmConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.closer()
}

// ExtendPCR implements TPM and firmware.PCRExtender.
func (c *tpmConn) ExtendPCR(ctx context.Context, index int, digest []byte) error {
	if index < 0 || index > 23 {
		return fmt.Errorf("attest: extend: PCR index %d outside 0..23", index)
	}
	if len(digest) != 32 {
		return fmt.Errorf("attest: extend: digest is %d bytes, want 32 (SHA-256)", len(digest))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	defer c.lock()()
	if err := tpm2.PCRExtend(c.rw, tpmutil.Handle(index), tpm2.AlgSHA256, digest, ""); err != nil {
		return fmt.Errorf("attest: extend PCR %d: %w", index, err)
	}
	return nil
}

var _ firmware.PCRExtender = (TPM)(nil)

// channel adapts a transport to go-attestation's command channel; Close is
// a no-op because tpmConn owns the transport.
type channel struct {
	io.ReadWriter
	log func() ([]byte, error)
}

func (ch channel) Close() error { return nil }
func (ch channel) MeasurementLog() ([]byte, error) {
	if ch.log == nil {
		return nil, errors.New("attest: no measurement log for this TPM")
	}
	return ch.log()
}

// Transport is how a TPM is reached. OpenDevice builds one for a hardware
// TPM; attest/devtpm builds them for the simulator and swtpm, so that the
// cgo simulator stays out of every binary that only verifies.
type Transport struct {
	// Kind names the TPM in logs: "simulator", "swtpm" or "device".
	Kind string
	// RW carries one whole command per Write and returns the whole
	// response to the next Read, as go-tpm expects.
	RW io.ReadWriter
	// Close releases the transport; nil if there is nothing to release.
	Close func() error
	// MeasurementLog reads the platform's TCG event log. It is nil for
	// simulated TPMs, whose log comes from firmware.Boot instead.
	MeasurementLog func() ([]byte, error)
	// EKCertificate, if set, is written into the EK-certificate NV index
	// on open: a TPM whose NV memory dies with its process gets back the
	// certificate it was given before.
	EKCertificate []byte
	// SaveEKCertificate, if set, is called by WriteEKCertificate to keep a
	// copy outside the TPM, to be passed back as EKCertificate next time.
	SaveEKCertificate func(der []byte) error
}

// OpenTransport opens a TPM over tr. On failure tr.Close is called, so the
// caller hands the transport over either way.
func OpenTransport(tr Transport) (TPM, error) {
	closer := tr.Close
	if closer == nil {
		closer = func() error { return nil }
	}
	if tr.Kind == "" || tr.RW == nil {
		closer()
		return nil, errors.New("attest: open TPM: Transport needs a Kind and an RW; build it with OpenDevice or attest/devtpm")
	}
	c := &tpmConn{kind: tr.Kind, rw: tr.RW, closer: closer, measurementLog: tr.MeasurementLog, saveEKCert: tr.SaveEKCertificate}
	at, err := gattest.OpenTPM(&gattest.OpenConfig{CommandChannel: channel{ReadWriter: tr.RW, log: tr.MeasurementLog}})
	if err != nil {
		closer()
		return nil, fmt.Errorf("attest: open %s TPM: %w", tr.Kind, err)
	}
	c.at = at
	if len(tr.EKCertificate) > 0 {
		if err := writeNV(c.rw, ekCertIndex, tr.EKCertificate); err != nil {
			c.Close()
			return nil, fmt.Errorf("attest: restore EK certificate into %s NV: %w", tr.Kind, err)
		}
	}
	return c, nil
}

// EKPublic is the public key of the TPM's RSA endorsement key: the key an
// EK certificate certifies and EKFingerprint names.
func EKPublic(ctx context.Context, t TPM) (crypto.PublicKey, error) {
	if t == nil {
		return nil, errors.New("attest: EK public key: nil TPM")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := t.conn()
	defer c.lock()()
	eks, err := c.at.EKs()
	if err != nil {
		return nil, fmt.Errorf("attest: read EK: %w", err)
	}
	if len(eks) == 0 {
		return nil, errors.New("attest: TPM has no RSA EK")
	}
	return eks[0].Public, nil
}

// WriteEKCertificate stores an EK certificate (DER) in the TCG
// EK-certificate NV index, where go-attestation and NewAttester find it as
// they find a vendor-provisioned one, and hands a copy to the transport's
// SaveEKCertificate.
func WriteEKCertificate(ctx context.Context, t TPM, der []byte) error {
	if t == nil {
		return errors.New("attest: write EK certificate: nil TPM")
	}
	if len(der) == 0 {
		return errors.New("attest: write EK certificate: the certificate is empty")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := t.conn()
	defer c.lock()()
	if err := writeNV(c.rw, ekCertIndex, der); err != nil {
		return fmt.Errorf("attest: write EK certificate: %w", err)
	}
	if c.saveEKCert != nil {
		if err := c.saveEKCert(der); err != nil {
			return fmt.Errorf("attest: write EK certificate: persist NV copy: %w", err)
		}
	}
	return nil
}

// DefaultDevicePath is the kernel's TPM resource manager, which lets the
// daemon share the TPM with other users; the config's tpm.path default.
const DefaultDevicePath = "/dev/tpmrm0"

// OpenDevice opens a hardware TPM (normally /dev/tpmrm0) and reads the
// platform event log from the kernel.
func OpenDevice(path string) (TPM, error) {
	if path == "" {
		path = DefaultDevicePath
	}
	rwc, err := tpm2.OpenTPM(path)
	if err != nil {
		return nil, fmt.Errorf("attest: open TPM device %s: %w", path, err)
	}
	return OpenTransport(Transport{Kind: "device", RW: rwc, Close: rwc.Close, MeasurementLog: func() ([]byte, error) {
		return firmware.ReadEventLog(firmware.KernelEventLogPath)
	}})
}

// writeNV (re)defines an NV index readable with its own empty auth, as TPM
// vendors store EK certificates, and writes data in chunks.
func writeNV(rw io.ReadWriter, index uint32, data []byte) error {
	h := tpmutil.Handle(index)
	if _, err := tpm2.NVReadPublic(rw, h); err == nil {
		if err := tpm2.NVUndefineSpace(rw, "", tpm2.HandleOwner, h); err != nil {
			return fmt.Errorf("undefine NV index %#x: %w", index, err)
		}
	}
	attrs := tpm2.AttrOwnerWrite | tpm2.AttrOwnerRead | tpm2.AttrAuthRead | tpm2.AttrNoDA
	if err := tpm2.NVDefineSpace(rw, tpm2.HandleOwner, h, "", "", nil, attrs, uint16(len(data))); err != nil {
		return fmt.Errorf("define NV index %#x: %w", index, err)
	}
	const chunk = 512
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if err := tpm2.NVWrite(rw, tpm2.HandleOwner, h, "", data[off:end], uint16(off)); err != nil {
			return fmt.Errorf("write NV index %#x: %w", index, err)
		}
	}
	return nil
}
