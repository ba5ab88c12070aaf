// Package check verifies a ledger state dir offline, for `wardgate ledger
// check`, and holds the rule the ledger itself applies at open: the tree
// rebuilt from the journal must have, at every stored checkpoint's and
// anchor's size, the root that was signed or anchored there.
//
// It reads bbolt and the write-ahead log directly and imports only bbolt,
// ledger/store and ledger/proof, so the CLI can use it without linking the
// ledger's writer (its chain client and committer).
package check

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/ledger/store"
)

// ErrRootMismatch is a stored checkpoint or anchor whose root the journal's
// entries do not reproduce: the log was forked or entries were lost.
var ErrRootMismatch = errors.New("journal does not reproduce a stored root")

// Root is a root the log had at Size, signed (a checkpoint) or anchored.
type Root struct {
	What string // "checkpoint" or "anchor"
	Size uint64
	Root [32]byte
}

// Roots checks each stored root against the tree: root(size) must be it.
// size is the tree's size; a stored root beyond it means entries were lost.
func Roots(size uint64, root func(uint64) ([32]byte, error), roots []Root) error {
	for _, r := range roots {
		if r.Size > size {
			return fmt.Errorf("%w: %s at size %d, but the journal holds %d entries (entries after %d were lost)", ErrRootMismatch, r.What, r.Size, size, size)
		}
		got, err := root(r.Size)
		if err != nil {
			return fmt.Errorf("%s at size %d: %w", r.What, r.Size, err)
		}
		if got != r.Root {
			return fmt.Errorf("%w: %s at size %d has root %x, the journal's entries give %x", ErrRootMismatch, r.What, r.Size, r.Root, got)
		}
	}
	return nil
}

// Finding is one problem in a state dir.
type Finding struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Report is what Dir found.
type Report struct {
	Dir         string    `json:"dir"`
	Box         string    `json:"box"`
	Entries     uint64    `json:"entries"`     // in bbolt and the WAL
	WALRecords  int       `json:"wal_records"` // not yet applied to bbolt
	WALFiles    int       `json:"wal_files"`
	TornBytes   int       `json:"torn_bytes,omitempty"` // an unacknowledged torn write, dropped at open
	Checkpoints int       `json:"checkpoints"`
	Anchors     int       `json:"anchors"`
	Findings    []Finding `json:"findings,omitempty"`
}

// OK is true when nothing was found.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

func (r *Report) add(code, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Code: code, Detail: fmt.Sprintf(format, args...)})
}

// Dir checks the state dir as the ledger would open it, without changing
// it: the WAL (a bad record only as a torn tail of the newest file), the
// entries (gapless, each signed by the record key, WAL agreeing with
// bbolt), every checkpoint's signature, and the tree against every
// checkpoint and anchor. The error is for a dir that cannot be read at all;
// damage is reported as findings. The daemon must not be running (bbolt's
// lock is taken, read-only).
func Dir(dir string) (r *Report, err error) {
	r = &Report{Dir: dir}
	defer func() {
		// bbolt panics on some damaged pages; that is a finding, not a crash.
		if p := recover(); p != nil {
			r.add("bbolt-corrupt", "%s is damaged: %v", filepath.Join(dir, store.DBName), p)
			err = nil
		}
	}()
	path := filepath.Join(dir, store.DBName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("check: %s: %w (is --state-dir the box's state dir?)", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrVersionMismatch) {
		r.add("bbolt-corrupt", "%s: %v", path, err)
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check: opening %s (stop wardgated first): %w", path, err)
	}
	defer db.Close()
	wal, err := readWAL(dir, r)
	if err != nil {
		return nil, err
	}
	err = db.View(func(tx *bolt.Tx) error {
		s := &state{r: r, wal: wal}
		return s.run(tx)
	})
	return r, err
}

// readWAL reads the WAL files as the ledger's replay would.
func readWAL(dir string, r *Report) ([]store.Record, error) {
	names, err := filepath.Glob(store.WALGlob(dir))
	if err != nil {
		return nil, fmt.Errorf("check: listing write-ahead log files: %w", err)
	}
	gens := store.WALGens(names)
	files := make([]store.WALFile, len(gens))
	for i, g := range gens {
		b, err := os.ReadFile(store.WALName(dir, g))
		if err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
		files[i] = store.WALFile{Name: store.WALName(dir, g), Data: b}
	}
	r.WALFiles = len(files)
	recs, torn, err := store.ReadWALs(files)
	if err != nil {
		r.add("wal-corrupt", "%v", err)
		return nil, nil
	}
	if torn != nil {
		r.TornBytes = torn.Bytes
	}
	r.WALRecords = len(recs)
	return recs, nil
}

type state struct {
	r      *Report
	wal    []store.Record
	pub    ed25519.PublicKey
	leaves [][32]byte
	roots  []Root
}

func (s *state) run(tx *bolt.Tx) error {
	for _, b := range [][]byte{store.BucketEntries, store.BucketCheckpoints, store.BucketAnchors, store.BucketMeta} {
		if tx.Bucket(b) == nil {
			s.r.add("bucket-missing", "bbolt bucket %q is missing: not a ledger state dir, or a damaged one", b)
			return nil
		}
	}
	meta := tx.Bucket(store.BucketMeta)
	s.r.Box = string(meta.Get(store.MetaBox))
	s.pub = ed25519.PublicKey(bytes.Clone(meta.Get(store.MetaKey)))
	if len(s.pub) != ed25519.PublicKeySize {
		s.r.add("record-key-missing", "meta has no %d-byte record key; entry and checkpoint signatures cannot be checked", ed25519.PublicKeySize)
		s.pub = nil
	}
	entries, cps := s.merge(tx)
	s.entries(entries)
	s.checkpoints(cps)
	s.anchors(tx.Bucket(store.BucketAnchors))
	s.tree()
	return nil
}

// merge is bbolt's entries and checkpoints with the WAL's applied on top,
// noting a WAL record that disagrees with bbolt.
func (s *state) merge(tx *bolt.Tx) (map[uint64][]byte, map[uint64][]byte) {
	es, cs := map[uint64][]byte{}, map[uint64][]byte{}
	tx.Bucket(store.BucketEntries).ForEach(func(k, v []byte) error {
		es[binary.BigEndian.Uint64(k)] = bytes.Clone(v)
		return nil
	})
	tx.Bucket(store.BucketCheckpoints).ForEach(func(k, v []byte) error {
		cs[binary.BigEndian.Uint64(k)] = bytes.Clone(v)
		return nil
	})
	for _, rec := range s.wal {
		m := es
		if rec.Type == store.WALCheckpoint {
			m = cs
		}
		if old, ok := m[rec.Key]; ok && rec.Type == store.WALEntry && !bytes.Equal(old, rec.Value) {
			s.r.add("wal-disagrees", "entry %d in the write-ahead log differs from the one in bbolt", rec.Key)
		}
		m[rec.Key] = rec.Value
	}
	return es, cs
}

func (s *state) entries(es map[uint64][]byte) {
	cache := proof.NewSigCache(1024)
	for seq := uint64(0); seq < uint64(len(es)); seq++ {
		v, ok := es[seq]
		if !ok {
			s.r.add("entry-gap", "no entry with seq %d, but %d entries are stored: entries were lost", seq, len(es))
			return
		}
		var e proof.Entry
		if err := e.UnmarshalBinary(v); err != nil {
			s.r.add("entry-malformed", "entry %d: %v", seq, err)
			return
		}
		if e.Seq != seq || (s.r.Box != "" && e.Log != s.r.Box) {
			s.r.add("entry-misplaced", "entry stored at seq %d is seq %d of log %q", seq, e.Seq, e.Log)
		}
		if s.pub != nil {
			if err := e.VerifySignatureCached(s.pub, cache); err != nil {
				s.r.add("entry-signature", "entry %d: %v", seq, err)
			}
		}
		s.leaves = append(s.leaves, proof.HashLeaf(v))
	}
	s.r.Entries = uint64(len(s.leaves))
}

func (s *state) checkpoints(cs map[uint64][]byte) {
	for size, v := range cs {
		var c proof.Checkpoint
		if err := json.Unmarshal(v, &c); err != nil {
			s.r.add("checkpoint-malformed", "checkpoint at size %d: %v", size, err)
			continue
		}
		if s.pub != nil {
			if err := c.VerifySignature(s.pub); err != nil {
				s.r.add("checkpoint-signature", "checkpoint at size %d: %v", size, err)
			}
		}
		s.roots = append(s.roots, Root{What: "checkpoint", Size: c.Size, Root: c.Root})
		s.r.Checkpoints++
	}
}

func (s *state) anchors(b *bolt.Bucket) {
	b.ForEach(func(k, v []byte) error {
		var a proof.Anchor
		if err := json.Unmarshal(v, &a); err != nil {
			s.r.add("anchor-malformed", "anchor %x: %v", k, err)
			return nil
		}
		s.roots = append(s.roots, Root{What: "anchor", Size: a.Size, Root: a.Root})
		s.r.Anchors++
		return nil
	})
}

// tree rebuilds the Merkle tree once, in order, and checks every stored
// root at its size.
func (s *state) tree() {
	slices.SortFunc(s.roots, func(a, b Root) int { return cmp.Compare(a.Size, b.Size) })
	fact := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := fact.NewEmptyRange(0)
	n := uint64(0)
	root := func(uint64) ([32]byte, error) {
		var h [32]byte
		b, err := rng.GetRootHash(nil)
		copy(h[:], b)
		return h, err
	}
	for _, r := range s.roots {
		for ; n < r.Size && n < uint64(len(s.leaves)); n++ {
			if err := rng.Append(s.leaves[n][:], nil); err != nil {
				s.r.add("tree", "appending leaf %d: %v", n, err)
				return
			}
		}
		if err := Roots(uint64(len(s.leaves)), root, []Root{r}); err != nil {
			s.r.add("root-mismatch", "%v", err)
		}
	}
}
