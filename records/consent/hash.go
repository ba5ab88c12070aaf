package consent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sync"

	"github.com/wardgate/wardgate/internal/atomicfile"
)

// PatientHash is the salted hash of a patient key: what the journal, the
// logs and refusals show instead of the identifier.
type PatientHash [32]byte

func (h PatientHash) String() string { return hex.EncodeToString(h[:]) }

// Hasher hashes patient keys with a secret salt kept by the box, so that a
// hash seen in the ledger or on chain cannot be matched against a list of
// candidate identifiers by anyone without the box's state dir.
type Hasher struct {
	salt []byte
	// macs reuses HMAC states: after its first Sum an HMAC's Reset
	// restores the keyed state instead of hashing the key again, which
	// halves the cost of a patient hash (one per record at the gate).
	macs sync.Pool
}

// saltFile is the salt's file name in the consent directory.
const saltFile = "patient-salt"

// LoadHasher reads dir's salt, creating it on first use.
func LoadHasher(dir string) (*Hasher, error) {
	p := filepath.Join(dir, saltFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		b = make([]byte, 32)
		rand.Read(b)
		if err := atomicfile.Write(p, b, 0o600); err != nil {
			return nil, fmt.Errorf("consent: writing patient salt: %w", err)
		}
		return &Hasher{salt: b}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consent: reading patient salt: %w", err)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("consent: %s is %d bytes, want 32; restore it from backup (hashes in the ledger depend on it)", p, len(b))
	}
	return &Hasher{salt: b}, nil
}

// Hash returns the salted hash of a patient key.
func (h *Hasher) Hash(patient string) PatientHash {
	m, ok := h.macs.Get().(hash.Hash)
	if !ok {
		m = hmac.New(sha256.New, h.salt)
	}
	m.Reset()
	m.Write([]byte(patient))
	var out PatientHash
	m.Sum(out[:0])
	h.macs.Put(m)
	return out
}
