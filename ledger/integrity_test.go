package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/check"
	"github.com/wardgate/wardgate/ledger/store"
	bolt "go.etcd.io/bbolt"
)

// crashedLedger appends n entries one commit each to a ledger whose WAL is
// never applied, and returns a copy of its state dir as a crash leaves it,
// the WAL file's path in the copy and the acknowledged entries.
func crashedLedger(t *testing.T, n int) (string, string, []Appended) {
	t.Helper()
	dir := t.TempDir()
	l := openTest(t, dir, nil, func(c *Config) { c.applyEvery = time.Hour })
	var acked []Appended
	for i := 0; i < n; i++ {
		a, err := l.Append(context.Background(), testEntry(1000+i))
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, a)
	}
	crashed := copyDir(t, dir)
	gens, _ := walFiles(osFS{}, crashed)
	if len(gens) != 1 {
		t.Fatalf("%d WAL files, want 1", len(gens))
	}
	return crashed, walName(crashed, gens[0]), acked
}

// recordOffsets are the offsets of the records in a WAL file.
func recordOffsets(t *testing.T, b []byte) []int {
	t.Helper()
	var offs []int
	for off := 0; off < len(b); off += store.WALHeader + int(binary.BigEndian.Uint32(b[off:])) {
		offs = append(offs, off)
	}
	return offs
}

func reopen(t *testing.T, dir string) (*Ledger, error) {
	s := testSigner(t, 7)
	return Open(context.Background(), Config{Box: "st-mary", StateDir: dir, Signer: s, CheckpointInterval: time.Hour,
		CheckpointEntries: 1 << 40, Logger: testutil.QuietLogger()})
}

// A flipped byte mid-log (in the payload, or in a length so that the record
// seems to run past the end) refuses the open with the file and offset, and
// keeps every file: acknowledged entries follow it.
func TestWALFlippedByteMidLogRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   func(off int) int
	}{
		{"payload", func(off int) int { return off + store.WALHeader + 20 }},
		{"length", func(off int) int { return off }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, wal, _ := crashedLedger(t, 5)
			b, _ := os.ReadFile(wal)
			offs := recordOffsets(t, b)
			b[tc.at(offs[1])] ^= 0x40
			os.WriteFile(wal, b, 0o600)
			l, err := reopen(t, dir)
			if err == nil {
				l.Close()
				t.Fatal("opened a log with a corrupt record mid-log; the entries after it were dropped")
			}
			if !errors.Is(err, store.ErrCorruptWAL) || !strings.Contains(err.Error(), wal) || !strings.Contains(err.Error(), "wardgate ledger check") {
				t.Fatalf("error does not name the file and the fix: %v", err)
			}
			if after, _ := os.ReadFile(wal); !bytes.Equal(after, b) {
				t.Fatal("the damaged write-ahead log was changed or deleted")
			}
		})
	}
}

// A bad record that would pass as a torn tail in the newest file refuses
// the open when it ends an older file: a newer file follows it.
func TestWALBadRecordInOlderFileRefused(t *testing.T) {
	dir, wal, _ := crashedLedger(t, 5)
	b, _ := os.ReadFile(wal)
	offs := recordOffsets(t, b)
	older, newer := b[:offs[3]], b[offs[3]:]
	older[len(older)-1] ^= 0x01 // the older file's last record
	gens, _ := walFiles(osFS{}, dir)
	os.WriteFile(wal, older, 0o600)
	os.WriteFile(walName(dir, gens[0]+1), newer, 0o600)
	l, err := reopen(t, dir)
	if err == nil {
		l.Close()
		t.Fatal("opened a log with a corrupt record at the end of an older WAL file")
	}
	if !errors.Is(err, store.ErrCorruptWAL) || !strings.Contains(err.Error(), wal) {
		t.Fatalf("error does not name the older file: %v", err)
	}
	if got, _ := walFiles(osFS{}, dir); len(got) != 2 {
		t.Fatalf("WAL files %v after a refused open, want both kept", got)
	}
}

// A torn or flipped last record of the newest WAL file is tolerated: that
// entry was never acknowledged as far as the log is concerned, the ones
// before it keep their sequence numbers, and the next entry gets the next
// number after them, never one an acknowledged entry holds.
func TestWALTornTailTolerated(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(b []byte, last int) []byte
	}{
		{"truncated", func(b []byte, last int) []byte { return b[:last+store.WALHeader+7] }},
		{"flipped", func(b []byte, last int) []byte { b[len(b)-3] ^= 0x10; return b }},
		{"zeroed", func(b []byte, last int) []byte { clear(b[last+100:]); return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, wal, acked := crashedLedger(t, 5)
			b, _ := os.ReadFile(wal)
			offs := recordOffsets(t, b)
			os.WriteFile(wal, tc.tear(b, offs[len(offs)-1]), 0o600)
			l, err := reopen(t, dir)
			if err != nil {
				t.Fatalf("torn tail refused: %v", err)
			}
			defer l.Close()
			torn := acked[len(acked)-1]
			for _, a := range acked[:len(acked)-1] {
				e, err := l.Entry(context.Background(), a.Seq)
				if err != nil || e.Digest != a.Entry.Digest {
					t.Fatalf("acknowledged entry %d lost or changed: %v", a.Seq, err)
				}
			}
			if got := l.Lookup(torn.Entry.Digest); len(got) != 0 {
				t.Fatalf("the torn entry was replayed at %v", got)
			}
			next, err := l.Append(context.Background(), testEntry(99))
			if err != nil {
				t.Fatal(err)
			}
			if next.Seq != torn.Seq {
				t.Fatalf("next entry got seq %d, want %d (the first seq no acknowledged entry holds)", next.Seq, torn.Seq)
			}
		})
	}
}

// Stored checkpoints and anchors are checked against the rebuilt tree: a
// lost entry, or a root that does not match, refuses the open.
func TestOpenRefusesRootMismatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(tx *bolt.Tx) error
	}{
		{"lost entry", func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Delete(u64key(4)) }},
		{"swapped entry", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEntries)
			e3, e4 := bytes.Clone(b.Get(u64key(3))), bytes.Clone(b.Get(u64key(4)))
			b.Put(u64key(3), e4)
			return b.Put(u64key(4), e3)
		}},
		{"anchor root", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAnchors).Put(u64key(3), []byte(`{"size":3,"root":"`+strings.Repeat("ab", 32)+`"}`))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTest(t, dir, nil, nil)
			for i := 0; i < 5; i++ {
				if _, err := l.Append(context.Background(), testEntry(i)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			l.Close()
			db, err := bolt.Open(filepath.Join(dir, store.DBName), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(tc.damage); err != nil {
				t.Fatal(err)
			}
			db.Close()
			l2, err := reopen(t, dir)
			if err == nil {
				l2.Close()
				t.Fatal("opened a journal that does not reproduce its stored roots")
			}
			if !errors.Is(err, check.ErrRootMismatch) || !strings.Contains(err.Error(), "wardgate ledger check") {
				t.Fatalf("error does not say the roots differ and what to do: %v", err)
			}
		})
	}
}

// A WAL entry that differs from the bbolt entry of the same seq refuses
// the open: replaying it would replace an entry already in the log.
func TestWALDisagreeingWithJournalRefused(t *testing.T) {
	dir, wal, _ := crashedLedger(t, 5)
	db, err := bolt.Open(filepath.Join(dir, store.DBName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Put(u64key(2), []byte("another entry")) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	l, err := reopen(t, dir)
	if err == nil {
		l.Close()
		t.Fatal("opened with a WAL entry that replaces a different journaled entry")
	}
	if !errors.Is(err, store.ErrCorruptWAL) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("error does not name the entry: %v", err)
	}
	if _, err := os.Stat(wal); err != nil {
		t.Fatalf("WAL file gone after a refused open: %v", err)
	}
}
