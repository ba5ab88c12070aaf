package ima

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/wardgate/wardgate/internal/tick"
)

// Extender extends a SHA-256 PCR (attest.TPM is one).
type Extender interface {
	ExtendPCR(ctx context.Context, index int, digest []byte) error
}

// Measurer is the simulated box's IMA: it measures each watched file when
// the box loads it, and again whenever the file changes, as the kernel
// does when a changed executable runs again; each measurement is appended
// to the list and extended into PCR 10. (A real box's kernel does this
// itself; wardgated then reads KernelList.)
type Measurer struct {
	tpm   Extender
	log   *slog.Logger
	files []string

	mu      sync.Mutex // the list and the PCR move together
	entries []Entry
	seen    map[string]fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
	sum  [32]byte
}

// MaxFileSize bounds a measured file.
const MaxFileSize = 1 << 30

// NewMeasurer measures files now (the box loading them) and returns the
// measurer; Watch re-measures them when they change.
func NewMeasurer(ctx context.Context, tpm Extender, files []string, log *slog.Logger) (*Measurer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Measurer{tpm: tpm, log: log, files: files, seen: map[string]fileStamp{}}
	for _, f := range files {
		if _, err := m.measure(ctx, f, true); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Watch polls the files every period until ctx ends, measuring each one
// whose modification time, size or content changed.
func (m *Measurer) Watch(ctx context.Context, period time.Duration) {
	tick.Every(ctx, period, func(ctx context.Context) { m.Rescan(ctx) })
}

// Rescan measures every watched file that changed since it was last
// measured.
func (m *Measurer) Rescan(ctx context.Context) {
	for _, f := range m.files {
		if changed, err := m.measure(ctx, f, false); err != nil {
			m.log.Warn("runtime measurement failed", "path", f, "err", err)
		} else if changed {
			m.log.Warn("measured file changed; new runtime measurement", "path", f)
		}
	}
}

// measure hashes path and, if it is new or changed, appends and extends
// its measurement.
func (m *Measurer) measure(ctx context.Context, path string, first bool) (bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("ima: measure %s: %w", path, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.seen[path]
	if ok && old.mod.Equal(st.ModTime()) && old.size == st.Size() && !first {
		return false, nil
	}
	sum, err := hashFile(path)
	if err != nil {
		return false, err
	}
	m.seen[path] = fileStamp{mod: st.ModTime(), size: st.Size(), sum: sum}
	if ok && old.sum == sum {
		return false, nil // touched, not changed: the kernel would not re-measure either
	}
	e := New(path, sum)
	d := e.ExtendDigest()
	if err := m.tpm.ExtendPCR(ctx, PCR, d[:]); err != nil {
		return false, fmt.Errorf("ima: extend PCR %d for %s: %w", PCR, path, err)
	}
	m.entries = append(m.entries, e)
	return true, nil
}

func hashFile(path string) ([32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, fmt.Errorf("ima: measure: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return [32]byte{}, fmt.Errorf("ima: measure %s: %w", path, err)
	}
	if n > MaxFileSize {
		return [32]byte{}, fmt.Errorf("ima: measure %s: larger than %d bytes", path, MaxFileSize)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// Since implements attest.RuntimeSource.
func (m *Measurer) Since(from uint64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from > uint64(len(m.entries)) {
		return nil, fmt.Errorf("%w: position %d, the list has %d entries", ErrPastEnd, from, len(m.entries))
	}
	return Marshal(m.entries[from:]), nil
}

// ErrPastEnd is a position beyond the list: the verifier last saw an
// earlier boot's list, and needs this boot's from the start.
var ErrPastEnd = errors.New("ima: position is past the end of the list (the box rebooted)")

// KernelListPath is where a real box's kernel publishes its IMA list.
const KernelListPath = "/sys/kernel/security/ima/binary_runtime_measurements"

// maxKernelList bounds how much of the kernel's list is read.
const maxKernelList = 64 << 20

// KernelList is a real box's IMA list, read from the kernel on each call.
type KernelList struct{ Path string }

// Since implements attest.RuntimeSource.
func (k KernelList) Since(from uint64) ([]byte, error) {
	f, err := os.Open(k.Path)
	if err != nil {
		return nil, fmt.Errorf("ima: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxKernelList+1))
	if err != nil {
		return nil, fmt.Errorf("ima: read %s: %w", k.Path, err)
	}
	if len(raw) > maxKernelList {
		return nil, errors.New("ima: the kernel's list is larger than " + fmt.Sprint(maxKernelList) + " bytes")
	}
	es, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if from > uint64(len(es)) {
		return nil, fmt.Errorf("%w: position %d, the list has %d entries", ErrPastEnd, from, len(es))
	}
	return Marshal(es[from:]), nil
}
