package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The journal is one bbolt file per box. bbolt commits with fdatasync, so
// once Update returns the batch is durable; the ledger acknowledges nothing
// before that.
var (
	bucketEntries     = []byte("entries")     // seq (BE) -> Entry.MarshalBinary
	bucketCheckpoints = []byte("checkpoints") // size (BE) -> Checkpoint JSON
	bucketAnchors     = []byte("anchors")     // size (BE) -> Anchor JSON
	bucketMeta        = []byte("meta")        // key -> value
)

var (
	metaBox      = []byte("box")
	metaKey      = []byte("record-key")
	metaInflight = []byte("inflight-tx") // the anchoring tx sent but not yet confirmed
)

type journal struct {
	db *bolt.DB
}

func openJournal(dir string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: creating state dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "ledger.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true, // the freelist is rebuilt on open; saves a write per commit
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: opening journal %s (is another wardgated using this state dir?): %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEntries, bucketCheckpoints, bucketAnchors, bucketMeta} {
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
	return &journal{db: db}, nil
}

func u64key(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// appendEntries writes one batch, and the checkpoint over it if cp is not
// nil, in one fsync'd transaction.
func (j *journal) appendEntries(first uint64, data [][]byte, cp []byte) error {
	return j.db.Update(func(tx *bolt.Tx) error {
		if cp != nil {
			if err := tx.Bucket(bucketCheckpoints).Put(u64key(first+uint64(len(data))), cp); err != nil {
				return fmt.Errorf("ledger: journaling checkpoint at size %d: %w", first+uint64(len(data)), err)
			}
		}
		b := tx.Bucket(bucketEntries)
		b.FillPercent = 1.0 // keys only ever grow: pack pages full
		var key [8]byte
		for i, d := range data {
			binary.BigEndian.PutUint64(key[:], first+uint64(i))
			if err := b.Put(key[:], d); err != nil {
				return fmt.Errorf("ledger: journaling entry %d: %w", first+uint64(i), err)
			}
		}
		return nil
	})
}

func (j *journal) entry(seq uint64) (*Entry, error) {
	var e Entry
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
