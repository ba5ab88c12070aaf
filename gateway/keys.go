package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/internal/atomicfile"
	"github.com/wardgate/wardgate/tunnel"
)

// recordKeyFile holds the record-signing key's seed sealed to the boot
// PCRs. The same key signs ledger entries, checkpoints and this box's
// attestation reports (each in its own signing domain), so the security
// team checks reports against the key the box's own attestation binds.
const recordKeyFile = "record-key.sealed"

const maxSealedFile = 64 << 10

// loadKeys unseals (or creates and seals) the record key. If the record key
// or the WireGuard key was sealed to a different boot state, the box runs in
// quarantine: fresh in-memory keys, and a throw-away data directory
// (state_dir/quarantine) for its tunnel key, journal and reports. Its peers
// then appraise the changed boot and refuse it, with the reason in their
// reports, while the sealed keys and the real log stay untouched for when
// the approved firmware boots again.
func (d *Gateway) loadKeys(ctx context.Context) error {
	d.dataDir = d.cfg.StateDir
	if err := d.loadRecordKey(ctx); err != nil {
		return err
	}
	if d.quarantine == "" {
		if err := d.checkWireGuardKey(ctx); err != nil {
			return err
		}
	}
	if d.quarantine == "" {
		return nil
	}
	return d.enterQuarantine()
}

// loadRecordKey unseals the record key, or creates and seals one on a
// box's first start. A key sealed to another boot state sets quarantine.
func (d *Gateway) loadRecordKey(ctx context.Context) error {
	path := filepath.Join(d.cfg.StateDir, recordKeyFile)
	blob, err := readBounded(path)
	switch {
	case err == nil:
		return d.unsealRecordKey(ctx, path, blob)
	case errors.Is(err, fs.ErrNotExist):
		return d.newRecordKey(ctx, path)
	default:
		return err
	}
}

func (d *Gateway) unsealRecordKey(ctx context.Context, path string, blob []byte) error {
	seed, err := d.tpm.Unseal(ctx, blob)
	if errors.Is(err, attest.ErrUnseal) {
		d.quarantine = "the record key in " + path + " is sealed to a different boot state (the measured firmware changed)"
		return nil
	}
	if err != nil {
		return fmt.Errorf("unsealing %s: %w", path, err)
	}
	if len(seed) != ed25519.SeedSize {
		return fmt.Errorf("%s unsealed to %d bytes, want %d; remove it and the ledger to start a new log", path, len(seed), ed25519.SeedSize)
	}
	d.recordKey = ed25519.NewKeyFromSeed(seed)
	return nil
}

func (d *Gateway) newRecordKey(ctx context.Context, path string) error {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rand.Reader, seed); err != nil {
		return fmt.Errorf("generating a record key: %w", err)
	}
	sealed, err := d.tpm.Seal(ctx, seed)
	if err != nil {
		return fmt.Errorf("sealing a new record key: %w", err)
	}
	if err := atomicfile.Write(path, sealed, 0o600); err != nil {
		return fmt.Errorf("writing the sealed record key: %w", err)
	}
	d.recordKey = ed25519.NewKeyFromSeed(seed)
	d.log.Info("generated and sealed a new record key", "path", path)
	return nil
}

// checkWireGuardKey tries to unseal the tunnel's key now: the tunnel
// refuses to start on a key it cannot unseal, and the box should start in
// quarantine instead.
func (d *Gateway) checkWireGuardKey(ctx context.Context) error {
	wgPath := filepath.Join(d.cfg.StateDir, tunnel.SealedKeyFile)
	blob, err := readBounded(wgPath)
	if err != nil {
		return nil // none yet (the tunnel creates it), or the tunnel reports it
	}
	if _, err := d.tpm.Unseal(ctx, blob); errors.Is(err, attest.ErrUnseal) {
		d.quarantine = "the WireGuard key in " + wgPath + " is sealed to a different boot state (the measured firmware changed)"
	} else if err != nil {
		return fmt.Errorf("unsealing %s: %w", wgPath, err)
	}
	return nil
}

// enterQuarantine switches to an ephemeral record key and an emptied
// state_dir/quarantine, so nothing of this boot touches the sealed keys or
// the real log.
func (d *Gateway) enterQuarantine() error {
	d.dataDir = filepath.Join(d.cfg.StateDir, "quarantine")
	if err := os.RemoveAll(d.dataDir); err != nil {
		return fmt.Errorf("clearing the quarantine directory: %w", err)
	}
	if err := os.MkdirAll(d.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating the quarantine directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generating an ephemeral record key: %w", err)
	}
	d.recordKey = priv
	d.log.Error("QUARANTINE: running on ephemeral keys and relaying no records; peers refuse this box unless its new boot state is approved. "+
		"Boot the approved firmware again to leave quarantine; after an approved upgrade, start a new log instead: move "+recordKeyFile+", "+
		tunnel.SealedKeyFile+", ledger.db and reports.db out of state_dir (and use a new gateway account)",
		"why", d.quarantine, "data_dir", d.dataDir)
	return nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSealedFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSealedFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSealedFile)
	}
	return b, nil
}

// readEd25519Public reads a vendor key file (firmware.ParsePublicKey).
func readEd25519Public(path string) (ed25519.PublicKey, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	k, err := firmware.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// readSecret reads a passphrase file (first line); empty path: no passphrase.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := readBounded(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

func hexDigest(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%q is not a hex SHA-256", s)
	}
	return b, nil
}

// lockFile takes an exclusive flock on path.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
