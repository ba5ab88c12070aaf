package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// walFS is the slice of the file system the write-ahead log and its
// directory use. Production uses osFS; the power-loss test uses a layer
// that, at a simulated crash, drops or tears every write not yet synced.
// bbolt keeps using the OS directly: its commits are fsync'd before they
// return, so the test snapshots it at the crash point instead.
type walFS interface {
	// Create makes a new, empty file for appending; it fails if one exists.
	Create(name string) (walFile, error)
	ReadFile(name string) ([]byte, error)
	Remove(name string) error
	Glob(pattern string) ([]string, error)
	// SyncDir makes the directory's entries (created files) durable.
	SyncDir(dir string) error
}

// walFile is an open WAL file.
type walFile interface {
	Write(b []byte) (int, error)
	// Datasync makes what was written durable (fdatasync).
	Datasync() error
	Close() error
}

type osFS struct{}

type osFile struct{ *os.File }

func (osFS) Create(name string) (walFile, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (f osFile) Datasync() error { return syscall.Fdatasync(int(f.Fd())) }

func (osFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osFS) Remove(name string) error              { return os.Remove(name) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("ledger: opening state dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("ledger: syncing state dir %s: %w", dir, err)
	}
	return nil
}
