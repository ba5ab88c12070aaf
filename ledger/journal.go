package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/ledger/store"
	bolt "go.etcd.io/bbolt"
)

// The journal is one bbolt file per box, fronted by a write-ahead log for
// entries. A group commit is one write and one fdatasync of the WAL (a
// bbolt commit costs two of each, plus page management), and the ledger
// acknowledges nothing before it returns. A background applier moves WAL
// records into bbolt in large batches (each a normal, fsync'd bbolt
// commit) and then deletes the WAL files they came from. Opening the
// journal replays whatever WAL is left into bbolt first, so after a crash
// every acknowledged entry is there; a torn record at a WAL's tail was
// never acknowledged and is dropped. Checkpoints, anchors and metadata are
// written to bbolt directly.
// The format (bucket names, WAL records) is defined once, in ledger/store.
var (
	bucketEntries      = store.BucketEntries
	bucketCheckpoints  = store.BucketCheckpoints
	bucketAnchors      = store.BucketAnchors
	bucketMeta         = store.BucketMeta
	bucketCosignatures = store.BucketCosignatures

	metaBox      = store.MetaBox
	metaKey      = store.MetaKey
	metaInflight = store.MetaInflight
)

type journal struct {
	db    *bolt.DB
	dir   string
	log   *slog.Logger
	fs    walFS
	every time.Duration // apply interval

	onSync func(time.Duration) // told each WAL fdatasync's latency; may be nil

	walMu  sync.Mutex // held while writing the WAL and while switching files
	wal    walFile
	walGen uint64
	walBuf []byte
	walErr error // sticky: a WAL write failed

	applyErr atomic.Pointer[error] // the last apply's failure, nil once one succeeds

	pendMu sync.RWMutex
	pendE  map[uint64][]byte // seq -> entry, in the WAL, not yet in bbolt
	pendC  map[uint64][]byte // size -> checkpoint JSON, likewise

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

const (
	applyEvery = time.Second // rarely: each apply's bbolt fsyncs slow the WAL's
	applyAbove = 32768       // pending records that trigger an early apply
	// maxPending bounds what waits in memory while applies fail (a full
	// or failing disk): past it appends are refused, not buffered.
	maxPending = 1 << 20
)

func walName(dir string, gen uint64) string { return store.WALName(dir, gen) }

func openJournal(dir string, log *slog.Logger) (*journal, error) {
	return openJournalFS(dir, osFS{}, applyEvery, log)
}

// openJournalFS opens the journal with the WAL on fs, applied every every.
func openJournalFS(dir string, fs walFS, every time.Duration, log *slog.Logger) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: creating state dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, store.DBName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true, // the freelist is rebuilt on open; saves a write per commit
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: opening journal %s (is another wardgated using this state dir?): %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEntries, bucketCheckpoints, bucketAnchors, bucketMeta, bucketCosignatures} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger: initialising journal %s: %w", path, err)
	}
	j := &journal{db: db, dir: dir, log: log, fs: fs, every: every, pendE: map[uint64][]byte{}, pendC: map[uint64][]byte{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	last, err := j.replay()
	if err != nil {
		db.Close()
		return nil, err
	}
	if j.wal, err = createWAL(fs, dir, last+1); err != nil {
		db.Close()
		return nil, err
	}
	j.walGen = last + 1
	go j.applier()
	return j, nil
}

// createWAL creates an empty WAL file and makes its directory entry durable.
func createWAL(fs walFS, dir string, gen uint64) (walFile, error) {
	name := walName(dir, gen)
	f, err := fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("ledger: creating write-ahead log: %w", err)
	}
	if err := fs.SyncDir(dir); err != nil {
		f.Close()
		fs.Remove(name) // empty; the next round makes it again
		return nil, err
	}
	return f, nil
}

// walFiles lists the WAL generations in dir, oldest first.
func walFiles(fs walFS, dir string) ([]uint64, error) {
	names, err := fs.Glob(store.WALGlob(dir))
	if err != nil {
		return nil, err
	}
	return store.WALGens(names), nil
}

// replay moves every WAL record left by the last run into bbolt, deletes
// the WAL files and returns the newest generation seen. A torn write at the
// tail of the newest file was never acknowledged and is dropped (and
// logged); any other bad record refuses the open and keeps every file, since
// acknowledged entries may follow it and dropping them would hand their
// sequence numbers to new entries, forking the log.
func (j *journal) replay() (uint64, error) {
	gens, err := walFiles(j.fs, j.dir)
	if err != nil || len(gens) == 0 {
		return 0, err
	}
	files := make([]store.WALFile, len(gens))
	for i, g := range gens {
		b, err := j.fs.ReadFile(walName(j.dir, g))
		if err != nil {
			return 0, fmt.Errorf("ledger: reading write-ahead log: %w", err)
		}
		files[i] = store.WALFile{Name: walName(j.dir, g), Data: b}
	}
	recs, torn, err := store.ReadWALs(files)
	if err != nil {
		return 0, fmt.Errorf("ledger: refusing to open %s: %w", j.dir, err)
	}
	if torn != nil {
		j.log.Warn("dropped a torn write at the tail of the write-ahead log (never acknowledged)",
			"code", "wal-torn-tail", "file", torn.File, "offset", torn.Offset, "bytes", torn.Bytes, "reason", torn.Reason)
	}
	es, cs := map[uint64][]byte{}, map[uint64][]byte{}
	for _, r := range recs {
		switch r.Type {
		case store.WALEntry:
			es[r.Key] = r.Value
		case store.WALCheckpoint:
			cs[r.Key] = r.Value
		}
	}
	if err := j.agrees(es); err != nil {
		return 0, err
	}
	if err := j.put(es, cs); err != nil {
		return 0, fmt.Errorf("ledger: replaying write-ahead log into the journal: %w", err)
	}
	for _, g := range gens {
		if err := j.fs.Remove(walName(j.dir, g)); err != nil {
			return 0, fmt.Errorf("ledger: removing replayed write-ahead log: %w", err)
		}
	}
	// Durably: a torn file come back after a crash would sit behind newer
	// files and be taken for corruption.
	if err := j.fs.SyncDir(j.dir); err != nil {
		return 0, err
	}
	return gens[len(gens)-1], nil
}

// agrees refuses WAL entries that would overwrite a different entry in
// bbolt under the same sequence number: replaying them would fork the log.
func (j *journal) agrees(es map[uint64][]byte) error {
	return j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEntries)
		for k, v := range es {
			if old := b.Get(u64key(k)); old != nil && !bytes.Equal(old, v) {
				return fmt.Errorf("ledger: refusing to open %s: %w: entry %d in the write-ahead log differs from the one in %s; "+
					"the files are kept: run `wardgate ledger check --state-dir %s`", j.dir, store.ErrCorruptWAL, k, store.DBName, j.dir)
			}
		}
		return nil
	})
}

// put writes entries and checkpoints to bbolt in one fsync'd transaction.
func (j *journal) put(es, cs map[uint64][]byte) error {
	if len(es) == 0 && len(cs) == 0 {
		return nil
	}
	return j.db.Update(func(tx *bolt.Tx) error {
		eb, cb := tx.Bucket(bucketEntries), tx.Bucket(bucketCheckpoints)
		eb.FillPercent = 1.0 // keys only ever grow: pack pages full
		keys := make([]uint64, 0, len(es))
		for k := range es {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := eb.Put(u64key(k), es[k]); err != nil {
				return fmt.Errorf("journaling entry %d: %w", k, err)
			}
		}
		for k, v := range cs {
			if err := cb.Put(u64key(k), v); err != nil {
				return fmt.Errorf("journaling checkpoint at size %d: %w", k, err)
			}
		}
		return nil
	})
}

// applier moves WAL records into bbolt every applyEvery (sooner when many
// are pending), and once more on close.
func (j *journal) applier() {
	defer close(j.done)
	t := time.NewTicker(j.every)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			j.apply()
			return
		case <-t.C:
		case <-j.kick:
		}
		j.apply()
	}
}

// apply switches the WAL to a new file, writes what the old files hold to
// bbolt, then deletes them. On a bbolt error the records stay pending and
// their files stay on disk; the next round retries.
func (j *journal) apply() {
	j.pendMu.RLock()
	n := len(j.pendE) + len(j.pendC)
	j.pendMu.RUnlock()
	if n == 0 {
		return
	}
	// The next file is made (and its directory entry synced) before
	// taking the lock, so that appends wait only for the switch.
	j.walMu.Lock()
	gen := j.walGen
	j.walMu.Unlock()
	nf, err := createWAL(j.fs, j.dir, gen+1)
	if err != nil {
		return // keep appending to the current file; retry next round
	}
	j.walMu.Lock()
	if j.walErr != nil {
		j.walMu.Unlock()
		nf.Close()
		return
	}
	j.pendMu.RLock()
	es, cs := maps.Clone(j.pendE), maps.Clone(j.pendC)
	j.pendMu.RUnlock()
	old := j.wal
	j.wal, j.walGen = nf, gen+1
	j.walMu.Unlock()
	old.Close()
	if err := j.put(es, cs); err != nil {
		err = fmt.Errorf("ledger: applying the write-ahead log to %s (entries stay in the log and are retried): %w", filepath.Join(j.dir, "ledger.db"), err)
		if j.applyErr.Swap(&err) == nil {
			j.log.Error("journal apply failed; retrying every second", "err", err)
		}
		return
	}
	if j.applyErr.Swap(nil) != nil {
		j.log.Info("journal apply recovered")
	}
	gens, _ := walFiles(j.fs, j.dir)
	for _, g := range gens {
		if g <= gen {
			j.fs.Remove(walName(j.dir, g))
		}
	}
	j.pendMu.Lock()
	for k := range es {
		delete(j.pendE, k)
	}
	for k := range cs {
		delete(j.pendC, k)
	}
	j.pendMu.Unlock()
}

// err is the last apply's failure, if the most recent one failed.
func (j *journal) err() error {
	if e := j.applyErr.Load(); e != nil {
		return *e
	}
	return nil
}

// close applies what is pending, then closes the WAL and bbolt.
func (j *journal) close() error {
	close(j.stop)
	<-j.done
	j.walMu.Lock()
	defer j.walMu.Unlock()
	j.wal.Close()
	j.pendMu.RLock()
	left := len(j.pendE) + len(j.pendC)
	j.pendMu.RUnlock()
	if left == 0 {
		// Everything is in bbolt: the last file holds nothing new.
		j.fs.Remove(walName(j.dir, j.walGen))
	}
	return j.db.Close()
}

func u64key(v uint64) []byte { return store.U64Key(v) }

// appendEntries makes one batch, and the checkpoint over it if cp is not
// nil, durable: one WAL write and one fdatasync.
func (j *journal) appendEntries(first uint64, data [][]byte, cp []byte) error {
	j.walMu.Lock()
	defer j.walMu.Unlock()
	if j.walErr != nil {
		return j.walErr
	}
	if err := j.applyErr.Load(); err != nil {
		j.pendMu.RLock()
		n := len(j.pendE)
		j.pendMu.RUnlock()
		if n > maxPending {
			return fmt.Errorf("ledger: %d entries wait for the journal, which keeps failing: %w", n, *err)
		}
	}
	b := j.walBuf[:0]
	for i, d := range data {
		b = store.AppendWAL(b, store.WALEntry, first+uint64(i), d)
	}
	size := first + uint64(len(data))
	if cp != nil {
		b = store.AppendWAL(b, store.WALCheckpoint, size, cp)
	}
	j.walBuf = b
	_, err := j.wal.Write(b)
	if err == nil {
		err = j.datasync()
	}
	if err != nil {
		// The file's tail is unknown now: stop, as bbolt would.
		j.walErr = fmt.Errorf("ledger: writing write-ahead log: %w", err)
		return j.walErr
	}
	j.pendMu.Lock()
	for i, d := range data {
		j.pendE[first+uint64(i)] = d
	}
	if cp != nil {
		j.pendC[size] = cp
	}
	n := len(j.pendE)
	j.pendMu.Unlock()
	if n > applyAbove {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// datasync makes the WAL's written bytes durable and reports how long
// that took.
func (j *journal) datasync() error {
	start := time.Now()
	err := j.wal.Datasync()
	if j.onSync != nil {
		j.onSync(time.Since(start))
	}
	return err
}

func (j *journal) entry(seq uint64) (*proof.Entry, error) {
	var e proof.Entry
	j.pendMu.RLock()
	d, ok := j.pendE[seq]
	j.pendMu.RUnlock()
	if ok {
		return &e, e.UnmarshalBinary(d)
	}
	err := j.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEntries).Get(u64key(seq))
		if v == nil {
			return fmt.Errorf("%w: seq %d", ErrNotFound, seq)
		}
		return e.UnmarshalBinary(v)
	})
	return &e, err
}

func (j *journal) putJSON(bucket, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return j.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, b) })
}

func (j *journal) getJSON(bucket, key []byte, v any) (bool, error) {
	var found bool
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket).Get(key)
		if b == nil {
			return nil
		}
		found = true
		return json.Unmarshal(b, v)
	})
	return found, err
}

func (j *journal) deleteKey(bucket, key []byte) error {
	return j.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(key) })
}

// ErrNotFound is returned when a sequence number or digest is not in the log.
var ErrNotFound = errors.New("ledger: not found")
