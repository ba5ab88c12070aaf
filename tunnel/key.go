package tunnel

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wardgate/wardgate/internal/atomicfile"
)

// Sealer seals secrets to this box's TPM and measured state. attest.TPM
// satisfies it; the tunnel needs nothing else from the TPM.
type Sealer interface {
	Seal(ctx context.Context, secret []byte) ([]byte, error)
	Unseal(ctx context.Context, blob []byte) ([]byte, error)
}

// SealedKeyFile is the name, inside Config.StateDir, of the WireGuard private
// key sealed by Config.Sealer. The file holds exactly Sealer.Seal(key).
const SealedKeyFile = "wg.key.sealed"

// maxSealedKeySize bounds what we read back from disk; a sealed 32-byte key
// is a few hundred bytes.
const maxSealedKeySize = 64 << 10

// ErrKeyUnseal is returned (wrapping the Sealer's error, e.g.
// attest.ErrUnseal) when the sealed WireGuard key cannot be unsealed.
var ErrKeyUnseal = errors.New("tunnel: cannot unseal the WireGuard private key")

// loadOrCreateKey returns the device's private key, creating and sealing a
// new one on first start.
func loadOrCreateKey(ctx context.Context, s Sealer, stateDir string) (priv [32]byte, created bool, err error) {
	path := filepath.Join(stateDir, SealedKeyFile)
	f, err := os.Open(path)
	switch {
	case err == nil:
		defer f.Close()
		blob, err := io.ReadAll(io.LimitReader(f, maxSealedKeySize+1))
		if err != nil {
			return priv, false, fmt.Errorf("tunnel: read %s: %w", path, err)
		}
		if len(blob) > maxSealedKeySize {
			return priv, false, fmt.Errorf("tunnel: %s is larger than %d bytes; it is not a sealed key", path, maxSealedKeySize)
		}
		raw, err := s.Unseal(ctx, blob)
		if err != nil {
			return priv, false, fmt.Errorf("%w from %s: %w (the state directory was copied from another box, or this box's boot measurements changed; restore the original state directory, or remove %s to generate a new key and re-enroll the box)",
				ErrKeyUnseal, path, err, path)
		}
		if len(raw) != 32 {
			return priv, false, fmt.Errorf("%w from %s: unsealed %d bytes, want 32", ErrKeyUnseal, path, len(raw))
		}
		copy(priv[:], raw)
		return priv, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return priv, false, fmt.Errorf("tunnel: open sealed key: %w", err)
	}

	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return priv, false, fmt.Errorf("tunnel: generate WireGuard key: %w", err)
	}
	copy(priv[:], k.Bytes())
	clamp(&priv)
	blob, err := s.Seal(ctx, priv[:])
	if err != nil {
		return priv, false, fmt.Errorf("tunnel: seal new WireGuard key: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return priv, false, fmt.Errorf("tunnel: state dir: %w", err)
	}
	if err := atomicfile.Write(path, blob, 0o600); err != nil {
		return priv, false, fmt.Errorf("tunnel: store sealed key: %w", err)
	}
	return priv, true, nil
}

// clamp applies the Curve25519 clamping that `wg genkey` applies, so the
// stored key is byte-identical to what wg(8) would show.
func clamp(k *[32]byte) {
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
}

func publicKey(priv [32]byte) ([32]byte, error) {
	var pub [32]byte
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return pub, fmt.Errorf("tunnel: private key: %w", err)
	}
	copy(pub[:], k.PublicKey().Bytes())
	return pub, nil
}
