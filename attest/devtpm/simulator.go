package devtpm

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/google/go-tpm-tools/simulator"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/internal/atomicfile"
)

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
func OpenSimulator(stateDir string) (attest.TPM, error) {
	return OpenSimulatorWith(stateDir, nil)
}

// OpenSimulatorWith is OpenSimulator with each command delayed by its
// latency and commands serialised, as on a discrete TPM.
func OpenSimulatorWith(stateDir string, latency Latency) (attest.TPM, error) {
	delay, err := latency.byCode()
	if err != nil {
		return nil, err
	}
	if stateDir == "" {
		return nil, errors.New("devtpm: open simulator: state directory is empty; set the box's state directory")
	}
	seed, err := loadSeed(filepath.Join(stateDir, seedFile))
	if err != nil {
		return nil, err
	}
	certPath := filepath.Join(stateDir, ekCertFile)
	cert, err := os.ReadFile(certPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("devtpm: read %s: %w", certPath, err)
	}
	if !simInUse.CompareAndSwap(false, true) {
		return nil, errors.New("devtpm: open simulator: a simulator is already open in this process (one per process)")
	}
	sim, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		simInUse.Store(false)
		return nil, fmt.Errorf("devtpm: start simulator: %w", err)
	}
	return attest.OpenTransport(attest.Transport{
		Kind: "simulator",
		RW:   &slowRW{rw: sim, delay: delay},
		Close: func() error {
			defer simInUse.Store(false)
			return sim.Close()
		},
		EKCertificate: cert,
		SaveEKCertificate: func(der []byte) error {
			return atomicfile.Write(certPath, der, 0o600)
		},
	})
}

// loadSeed reads the simulator's seed, or creates one: the seed is the
// simulated TPM's identity, so losing it means re-enrolling the box.
func loadSeed(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var r [8]byte
		if _, err := rand.Read(r[:]); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return 0, fmt.Errorf("devtpm: create state directory: %w", err)
		}
		if err := atomicfile.Write(path, []byte(hex.EncodeToString(r[:])+"\n"), 0o600); err != nil {
			return 0, fmt.Errorf("devtpm: write TPM seed: %w", err)
		}
		return int64(binary.BigEndian.Uint64(r[:])), nil
	}
	if err != nil {
		return 0, fmt.Errorf("devtpm: read TPM seed: %w", err)
	}
	r, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(r) != 8 {
		return 0, fmt.Errorf("devtpm: %s is not a 16-hex-digit seed; delete it to create a new TPM identity", path)
	}
	return int64(binary.BigEndian.Uint64(r)), nil
}
