package consent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardgate/wardgate/internal/atomicfile"
)

// MaxConsents bounds the consents one box keeps on file (and in memory:
// parsed, without their bytes, which stay on disk).
const MaxConsents = 1 << 18

// ErrNotFound: no consent with that id is on file.
var ErrNotFound = errors.New("consent: no such consent")

// ErrFull: the store holds MaxConsents.
var ErrFull = errors.New("consent: store is full")

// Store keeps the Consents posted to the box, one file per id in its
// directory (<id>.json, the resource bytes as posted; <id>.withdrawn once
// withdrawn by DELETE), and indexes them by patient. Safe for concurrent
// use; a change is on disk before Put or Withdraw returns, so it applies to
// every record accepted after it.
type Store struct {
	dir string

	mu        sync.RWMutex
	byID      map[string]*Consent
	byPatient map[string][]*Consent
}

// withdrawnExt marks a consent withdrawn by DELETE.
const withdrawnExt = ".withdrawn"

// Open loads the consents in dir, creating it if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	s := &Store{dir: dir, byID: map[string]*Consent{}, byPatient: map[string][]*Consent{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validID(id) {
			continue
		}
		if err := s.load(id); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) load(id string) error {
	b, err := os.ReadFile(s.path(id, ".json"))
	if err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return fmt.Errorf("consent: %s: %w", s.path(id, ".json"), err)
	}
	if _, err := os.Stat(s.path(id, withdrawnExt)); err == nil {
		c.Status = StatusInactive
	}
	s.index(c)
	return nil
}

func (s *Store) path(id, ext string) string { return filepath.Join(s.dir, id+ext) }

// Put stores a Consent (new, or a new version of one on file: a status
// inactive withdraws it) and returns it parsed.
func (s *Store) Put(raw []byte) (*Consent, error) {
	c, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[c.ID]; !ok && len(s.byID) >= MaxConsents {
		return nil, fmt.Errorf("%w: %d consents on file; remove withdrawn ones", ErrFull, MaxConsents)
	}
	if err := atomicfile.Write(s.path(c.ID, ".json"), raw, 0o600); err != nil {
		return nil, fmt.Errorf("consent: storing %s: %w", c.ID, err)
	}
	if err := os.Remove(s.path(c.ID, withdrawnExt)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("consent: %w", err)
	}
	s.index(c)
	return c, nil
}

// Withdraw marks a consent withdrawn (DELETE /v1/consents/{id}): its file
// stays, for the privacy officer, with status inactive.
func (s *Store) Withdraw(id string, now time.Time) (*Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err := atomicfile.Write(s.path(id, withdrawnExt), []byte(now.UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("consent: withdrawing %s: %w", id, err)
	}
	c := *old
	c.Status = StatusInactive
	s.index(&c)
	return &c, nil
}

// index replaces the consent with c's id in both maps; callers hold mu
// (or own s alone, in Open).
func (s *Store) index(c *Consent) {
	if old, ok := s.byID[c.ID]; ok {
		s.byPatient[old.Patient] = slices.DeleteFunc(slices.Clone(s.byPatient[old.Patient]), func(x *Consent) bool { return x.ID == c.ID })
		if len(s.byPatient[old.Patient]) == 0 {
			delete(s.byPatient, old.Patient)
		}
	}
	if c.Version == "" {
		c.Version = defaultVersion(c)
	}
	s.byID[c.ID] = c
	s.byPatient[c.Patient] = append(slices.Clip(s.byPatient[c.Patient]), c)
}

// defaultVersion names a version without meta.versionId by its digest.
func defaultVersion(c *Consent) string { return fmt.Sprintf("sha256:%x", c.Digest[:6]) }

// Get returns the consent with id.
func (s *Store) Get(id string) (*Consent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return c, nil
}

// Raw returns the consent's bytes as posted (what `wardgate verify
// --consent` hashes).
func (s *Store) Raw(id string) ([]byte, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.byID[id]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	b, err := os.ReadFile(s.path(id, ".json"))
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	return b, nil
}

// ForPatient returns the consents on file for a patient key (any status).
// The slice is shared: do not modify it.
func (s *Store) ForPatient(patient string) []*Consent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byPatient[patient]
}

// List returns every consent, ordered by id.
func (s *Store) List() []*Consent {
	s.mu.RLock()
	out := make([]*Consent, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, c)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Consent) int { return strings.Compare(a.ID, b.ID) })
	return out
}
