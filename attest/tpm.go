package attest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	gattest "github.com/google/go-attestation/attest"
	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"

	"github.com/wardgate/wardgate/firmware"
)

// TPM is a TPM 2.0 reached through any of the openers. Nothing above this
// interface knows whether it is the simulator, swtpm or a device.
type TPM interface {
	// Kind is "simulator", "swtpm" or "device".
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
	persistNV      func(index uint32, data []byte) error
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

func newConn(kind string, rw io.ReadWriter, closer func() error, mlog func() ([]byte, error)) (*tpmConn, error) {
	c := &tpmConn{kind: kind, rw: rw, closer: closer, measurementLog: mlog}
	at, err := gattest.OpenTPM(&gattest.OpenConfig{CommandChannel: channel{ReadWriter: rw, log: mlog}})
	if err != nil {
		closer()
		return nil, fmt.Errorf("attest: open %s TPM: %w", kind, err)
	}
	c.at = at
	return c, nil
}

// simInUse enforces the simulator's one-per-process rule with an error
// instead of the library's blocking lock.
var simInUse atomic.Bool

const (
	seedFile   = "tpm-seed"
	ekCertFile = "tpm-nv-ekcert.der"
)

// OpenSimulator opens the go-tpm-tools in-process simulator seeded from
// stateDir/tpm-seed (created on first use), so the same box keeps the same
// EK across restarts. The simulator's NV memory does not survive the
// process, so the EK certificate written by DevCA.ProvisionEK is kept in
// stateDir and restored on open. Only one simulator may be open per process.
func OpenSimulator(stateDir string) (TPM, error) {
	if stateDir == "" {
		return nil, errors.New("attest: open simulator: state directory is empty; set the box's state directory")
	}
	seed, err := loadSeed(filepath.Join(stateDir, seedFile))
	if err != nil {
		return nil, err
	}
	if !simInUse.CompareAndSwap(false, true) {
		return nil, errors.New("attest: open simulator: a simulator is already open in this process (one per process)")
	}
	sim, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		simInUse.Store(false)
		return nil, fmt.Errorf("attest: start simulator: %w", err)
	}
	closer := func() error {
		defer simInUse.Store(false)
		return sim.Close()
	}
	c, err := newConn("simulator", sim, closer, nil)
	if err != nil {
		return nil, err
	}
	certPath := filepath.Join(stateDir, ekCertFile)
	c.persistNV = func(index uint32, data []byte) error {
		return writeFileAtomic(certPath, data, 0o600)
	}
	if der, err := os.ReadFile(certPath); err == nil {
		if err := writeNV(c.rw, ekCertIndex, der); err != nil {
			c.Close()
			return nil, fmt.Errorf("attest: restore EK certificate into simulator NV: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		c.Close()
		return nil, fmt.Errorf("attest: read %s: %w", certPath, err)
	}
	return c, nil
}

func loadSeed(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var r [8]byte
		if _, err := rand.Read(r[:]); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return 0, fmt.Errorf("attest: create state directory: %w", err)
		}
		if err := writeFileAtomic(path, []byte(hex.EncodeToString(r[:])+"\n"), 0o600); err != nil {
			return 0, fmt.Errorf("attest: write TPM seed: %w", err)
		}
		return int64(binary.BigEndian.Uint64(r[:])), nil
	}
	if err != nil {
		return 0, fmt.Errorf("attest: read TPM seed: %w", err)
	}
	r, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(r) != 8 {
		return 0, fmt.Errorf("attest: %s is not a 16-hex-digit seed; delete it to create a new TPM identity", path)
	}
	return int64(binary.BigEndian.Uint64(r)), nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// OpenSWTPM connects to a swtpm started with
// `swtpm socket --tpm2 --server type=tcp,port=P --flags not-need-init,startup-clear`.
func OpenSWTPM(ctx context.Context, addr string) (TPM, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("attest: connect to swtpm at %s: %w", addr, err)
	}
	return newConn("swtpm", &framedConn{c: nc}, nc.Close, nil)
}

// OpenDevice opens a hardware TPM (normally /dev/tpmrm0) and reads the
// platform event log from the kernel.
func OpenDevice(path string) (TPM, error) {
	if path == "" {
		path = "/dev/tpmrm0"
	}
	rwc, err := tpm2.OpenTPM(path)
	if err != nil {
		return nil, fmt.Errorf("attest: open TPM device %s: %w", path, err)
	}
	return newConn("device", rwc, rwc.Close, func() ([]byte, error) {
		return firmware.ReadEventLog(firmware.KernelEventLogPath)
	})
}

// framedConn turns a stream into the one-read-per-response transport go-tpm
// expects: it reads the whole response (its size is in the header).
type framedConn struct {
	c   net.Conn
	buf bytes.Buffer
}

func (f *framedConn) Write(b []byte) (int, error) { return f.c.Write(b) }

func (f *framedConn) Read(b []byte) (int, error) {
	if f.buf.Len() == 0 {
		var hdr [10]byte
		if _, err := io.ReadFull(f.c, hdr[:]); err != nil {
			return 0, fmt.Errorf("swtpm: read response header: %w", err)
		}
		size := binary.BigEndian.Uint32(hdr[2:6])
		if size < 10 || size > 1<<16 {
			return 0, fmt.Errorf("swtpm: response size %d out of range", size)
		}
		f.buf.Write(hdr[:])
		if _, err := io.CopyN(&f.buf, f.c, int64(size-10)); err != nil {
			return 0, fmt.Errorf("swtpm: read response body: %w", err)
		}
	}
	return f.buf.Read(b)
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
