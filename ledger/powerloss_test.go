package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/ledger/store"
)

// crashFS is the WAL's file layer as a disk with a page cache: writes are
// in memory until Datasync, created and removed names until SyncDir. At
// the crash point (the n-th call of one operation, before it runs) the
// disk keeps only what was made durable, and tears the rest: each file's
// unsynced bytes are dropped, cut short, or cut short and zero-filled; a
// name not yet synced is lost, a removal not yet synced may be undone.
// After the crash every operation fails.
type crashFS struct {
	mu      sync.Mutex
	rng     *rand.Rand
	files   map[string]*memFile // the names as the running process sees them
	durable map[string]*memFile // the names as the disk has them
	at      string              // the operation that crashes ...
	atN     int                 // ... on its atN-th call
	calls   map[string]int
	crashed bool
	image   map[string][]byte // the disk after the crash
	// onCrash runs at the crash point, with every WAL operation stopped:
	// the test snapshots bbolt there.
	onCrash func()
}

type memFile struct {
	data   []byte
	synced int
}

var errCrashed = errors.New("crashfs: the machine lost power")

func newCrashFS(seed uint64, at string, atN int) *crashFS {
	return &crashFS{rng: rand.New(rand.NewPCG(seed, seed)), files: map[string]*memFile{}, durable: map[string]*memFile{},
		at: at, atN: atN, calls: map[string]int{}}
}

// op counts a call of op and crashes if it is the crash point; fs.mu is held.
func (fs *crashFS) op(op string) error {
	if fs.crashed {
		return errCrashed
	}
	fs.calls[op]++
	if op == fs.at && fs.calls[op] == fs.atN {
		fs.crash()
		return errCrashed
	}
	return nil
}

func (fs *crashFS) crash() {
	fs.crashed = true
	if fs.onCrash != nil {
		fs.onCrash()
	}
	fs.image = map[string][]byte{}
	for name, f := range fs.durable {
		if fs.files[name] != f && fs.rng.IntN(2) == 0 {
			continue // a removal that reached the disk anyway
		}
		fs.image[name] = fs.tear(f)
	}
}

// tear is what the disk holds of f: the synced bytes, then a torn rest.
func (fs *crashFS) tear(f *memFile) []byte {
	b := slices.Clone(f.data[:f.synced])
	rest := f.data[f.synced:]
	if len(rest) == 0 {
		return b
	}
	switch cut := fs.rng.IntN(len(rest) + 1); fs.rng.IntN(3) {
	case 0: // nothing reached the disk
	case 1:
		b = append(b, rest[:cut]...)
	default: // the file grew, some pages never written
		b = append(b, rest[:cut]...)
		b = append(b, make([]byte, len(rest)-cut)...)
	}
	return b
}

func (fs *crashFS) isCrashed() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.crashed
}

type crashFile struct {
	fs *crashFS
	f  *memFile
}

func (fs *crashFS) Create(name string) (walFile, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.op("create"); err != nil {
		return nil, err
	}
	if fs.files[name] != nil {
		return nil, os.ErrExist
	}
	f := &memFile{}
	fs.files[name] = f
	return &crashFile{fs, f}, nil
}

func (f *crashFile) Write(b []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.op("write"); err != nil {
		return 0, err
	}
	f.f.data = append(f.f.data, b...)
	return len(b), nil
}

func (f *crashFile) Datasync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.op("datasync"); err != nil {
		return err
	}
	f.f.synced = len(f.f.data)
	return nil
}

func (f *crashFile) Close() error { return nil }

func (fs *crashFS) ReadFile(name string) ([]byte, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.op("read"); err != nil {
		return nil, err
	}
	f := fs.files[name]
	if f == nil {
		return nil, os.ErrNotExist
	}
	return slices.Clone(f.data), nil
}

func (fs *crashFS) Remove(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.op("remove"); err != nil {
		return err
	}
	if fs.files[name] == nil {
		return os.ErrNotExist
	}
	delete(fs.files, name)
	return nil
}

func (fs *crashFS) Glob(pattern string) ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.op("glob"); err != nil {
		return nil, err
	}
	var out []string
	for name := range fs.files {
		if ok, _ := filepath.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	return out, nil
}

func (fs *crashFS) SyncDir(string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.op("syncdir"); err != nil {
		return err
	}
	fs.durable = maps2(fs.files)
	return nil
}

func maps2(m map[string]*memFile) map[string]*memFile {
	out := make(map[string]*memFile, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Power loss at a group commit, a WAL rotation or an apply loses no
// acknowledged entry or checkpoint, and the log reopened after it extends
// every checkpoint signed before it (a consistency proof verifies). A
// kill -9 keeps the page cache, so only a layer that drops unsynced
// writes can show that the journal's fdatasync is what makes entries
// durable: remove it and this test fails.
func TestPowerLossKeepsAcknowledgedEntries(t *testing.T) {
	for _, tc := range []struct {
		at  string
		atN []int
	}{
		{"datasync", []int{3, 40, 150}}, // a group commit written, not yet synced
		{"write", []int{25, 120}},       // between group commits
		{"create", []int{2, 4}},         // WAL rotation: the next file not yet made
		{"syncdir", []int{3, 5}},        // WAL rotation: made, its name not durable
		{"remove", []int{1, 3}},         // apply: bbolt committed, old files going
	} {
		for _, n := range tc.atN {
			t.Run(fmt.Sprintf("%s-%d", tc.at, n), func(t *testing.T) {
				// Then a second crash: in replay (its first remove, after
				// the replayed records reached bbolt) or in the appends
				// after it.
				for seed, second := range []crashPoint{{"remove", 1}, {"datasync", 20}, {"create", 2}} {
					powerLoss(t, uint64(seed+1), crashPoint{tc.at, n}, second)
				}
			})
		}
	}
}

type ackLog struct {
	mu  sync.Mutex
	t   *testing.T
	ent map[uint64]proof.Hash
	cps []proof.Checkpoint
}

func (a *ackLog) entry(seq uint64, d proof.Hash) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.ent[seq]; ok && old != d {
		a.t.Errorf("seq %d acknowledged twice, for two entries", seq)
	}
	a.ent[seq] = d
}

type crashPoint struct {
	at string
	n  int
}

// powerLoss runs the box to a crash at first, then again from what the
// disk held to a crash at second (in replay or the appends after it), and
// checks the disk left by the second crash.
func powerLoss(t *testing.T, seed uint64, first, second crashPoint) {
	t.Helper()
	acks := &ackLog{t: t, ent: map[uint64]proof.Hash{}}
	dir, image := t.TempDir(), map[string][]byte{}
	for i, cp := range []crashPoint{first, second} {
		dir, image = runToCrash(t, seed+uint64(i)<<8, dir, image, cp, acks)
	}
	for name, b := range image {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	checkAfterCrash(t, dir, acks, fmt.Sprintf("seed %d, crash at %s #%d then %s #%d", seed, first.at, first.n, second.at, second.n))
}

// runToCrash opens the ledger on dir's bbolt file and the WAL files in
// image (by base name), appends until the crash point, and returns a new
// dir with bbolt as it was at the crash and the WAL files the disk kept.
func runToCrash(t *testing.T, seed uint64, dir string, image map[string][]byte, cp crashPoint, acks *ackLog) (string, map[string][]byte) {
	t.Helper()
	crashed := t.TempDir()
	fs := newCrashFS(seed, cp.at, cp.n)
	for name, b := range image {
		f := &memFile{data: b, synced: len(b)}
		fs.files[filepath.Join(dir, name)], fs.durable[filepath.Join(dir, name)] = f, f
	}
	var l *Ledger
	var lmu sync.Mutex
	fs.onCrash = func() {
		// bbolt's commits are fsync'd before they return: its last
		// committed state is what the disk holds.
		lmu.Lock()
		db := l
		lmu.Unlock()
		path := filepath.Join(crashed, store.DBName)
		var err error
		if db != nil {
			err = db.j.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) })
		} else {
			err = copyFile(filepath.Join(dir, store.DBName), path) // a crash in replay, before Open returned
		}
		if err != nil {
			t.Error(err)
		}
	}
	ol, err := Open(context.Background(), Config{Box: "st-mary", StateDir: dir, Signer: testSigner(t, 7), Logger: testutil.QuietLogger(),
		walFS: fs, applyEvery: 15 * time.Millisecond, CheckpointEachCommit: true, CheckpointInterval: 10 * time.Millisecond,
		CheckpointEntries: 1 << 40, MaxBatch: 64})
	if err == nil {
		lmu.Lock()
		l = ol
		lmu.Unlock()
		appendUntilCrash(l, fs, acks)
		l.Close()
	} else if !errors.Is(err, errCrashed) {
		t.Fatalf("open after a crash refused: %v", err)
	}
	if !fs.isCrashed() {
		t.Fatalf("seed %d: the crash point %s #%d was never reached", seed, cp.at, cp.n)
	}
	out := map[string][]byte{}
	for name, b := range fs.image {
		out[filepath.Base(name)] = b
	}
	return crashed, out
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// appendUntilCrash appends from several goroutines, and takes checkpoints,
// until the crash; it returns what was acknowledged.
func appendUntilCrash(l *Ledger, fs *crashFS, acks *ackLog) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5000 && !fs.isCrashed(); i++ {
				a, err := l.Append(ctx, testEntry(w<<16|i))
				if err != nil {
					return
				}
				acks.entry(a.Seq, a.Entry.Digest)
				if i%50 == 0 {
					if cp, err := l.Checkpoint(ctx); err == nil && !fs.isCrashed() {
						// Returned before the crash: in bbolt's snapshot.
						acks.mu.Lock()
						acks.cps = append(acks.cps, cp)
						acks.mu.Unlock()
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

func checkAfterCrash(t *testing.T, dir string, acks *ackLog, what string) {
	t.Helper()
	ctx := context.Background()
	l, err := Open(ctx, Config{Box: "st-mary", StateDir: dir, Signer: testSigner(t, 7), CheckpointInterval: time.Hour,
		CheckpointEntries: 1 << 40, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatalf("%s: reopen refused: %v", what, err)
	}
	defer l.Close()
	seqs := make([]uint64, 0, len(acks.ent))
	for s := range acks.ent {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var lost []string
	for _, s := range seqs {
		if e, err := l.Entry(ctx, s); err != nil || e.Digest != acks.ent[s] {
			lost = append(lost, fmt.Sprint(s))
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%s: %d of %d acknowledged entries lost or changed, seqs %s ...", what, len(lost), len(seqs), strings.Join(lost[:min(len(lost), 10)], " "))
	}
	next, err := l.Append(ctx, testEntry(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(seqs); n > 0 && next.Seq <= seqs[n-1] {
		t.Fatalf("%s: new entry got seq %d, already held by an acknowledged entry", what, next.Seq)
	}
	now, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range acks.cps {
		p, err := l.Consistency(ctx, old.Size, now.Size)
		if err != nil {
			t.Fatalf("%s: consistency %d -> %d: %v", what, old.Size, now.Size, err)
		}
		if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, now.Size, p, old.Root[:], now.Root[:]); err != nil {
			t.Fatalf("%s: the log after the crash does not extend the checkpoint at size %d signed before it: %v", what, old.Size, err)
		}
	}
	t.Logf("%s: %d acknowledged entries and %d checkpoints kept; log size %d", what, len(seqs), len(acks.cps), now.Size)
}
