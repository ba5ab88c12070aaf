package main

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/ledger/store"
)

// checkedStateDir is a stopped box's state dir: 20 entries and a checkpoint.
func checkedStateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := proof.NewKeySigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := ledger.Open(ctx, ledger.Config{Box: "hospital-a", StateDir: dir, Signer: s, CheckpointInterval: time.Hour, CheckpointEntries: 1 << 40, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		e := proof.Entry{Kind: proof.KindSent, Digest: proof.Digest([]byte{byte(i)}), Sender: "hospital-a", Receiver: "hospital-b", ContentType: "application/hl7-v2"}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func damageDB(t *testing.T, dir string, f func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, store.DBName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
}

// `wardgate ledger check` passes a good state dir and names each kind of
// damage in a bad one, exiting non-zero.
func TestLedgerCheck(t *testing.T) {
	good := checkedStateDir(t)
	r := wardgate(t, "", "ledger", "check", "--state-dir", good)
	if r.code != 0 {
		t.Fatalf("good state dir: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "check output", r.stdout, "log:", "hospital-a", "entries:", "20", "checkpoints:", "result:", "OK")

	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   []string
	}{
		{"entry signature", func(t *testing.T, dir string) {
			damageDB(t, dir, func(tx *bolt.Tx) error {
				b := tx.Bucket(store.BucketEntries)
				v := append([]byte(nil), b.Get(store.U64Key(7))...)
				v[len(v)-1] ^= 1 // in the signature
				return b.Put(store.U64Key(7), v)
			})
		}, []string{"FINDING entry-signature: entry 7", "FINDING root-mismatch: ", "checkpoint at size 20"}},
		{"lost entry", func(t *testing.T, dir string) {
			damageDB(t, dir, func(tx *bolt.Tx) error { return tx.Bucket(store.BucketEntries).Delete(store.U64Key(19)) })
		}, []string{"FINDING root-mismatch: ", "journal holds 19 entries"}},
		{"bbolt page", func(t *testing.T, dir string) {
			path := filepath.Join(dir, store.DBName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := 2 * 4096; i < len(b); i++ {
				b[i] = 0xa5
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"FINDING bbolt-corrupt: "}},
		{"bbolt meta", func(t *testing.T, dir string) {
			path := filepath.Join(dir, store.DBName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			clear(b[:2*4096])
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"FINDING bbolt-corrupt: "}},
		{"WAL mid-log", func(t *testing.T, dir string) {
			b := store.AppendWAL(nil, store.WALEntry, 20, make([]byte, 100))
			b = store.AppendWAL(b, store.WALEntry, 21, make([]byte, 100))
			b[store.WALHeader+30] ^= 1 // the first record's payload
			if err := os.WriteFile(store.WALName(dir, 9), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"FINDING wal-corrupt: ", "ledger-0000000000000009.wal at offset 0", "checksum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := checkedStateDir(t)
			tc.damage(t, dir)
			r := wardgate(t, "", "ledger", "check", "--state-dir", dir)
			if r.code != 1 {
				t.Fatalf("damaged state dir: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			mustContain(t, "check output", r.stdout, tc.want...)
			mustContain(t, "check error", r.stderr, "ledger check found damage")
		})
	}

	// A torn write at the tail of the newest WAL file is what a power loss
	// leaves: reported, not a finding.
	torn := checkedStateDir(t)
	b := store.AppendWAL(nil, store.WALEntry, 20, make([]byte, 100))
	if err := os.WriteFile(store.WALName(torn, 9), b[:len(b)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	r = wardgate(t, "", "ledger", "check", "--state-dir", torn)
	if r.code != 0 {
		t.Fatalf("torn tail: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "check output", r.stdout, "torn tail:", "107 bytes", "result:", "OK")

	r = wardgate(t, "", "ledger", "check", "--state-dir", t.TempDir())
	if r.code != 1 {
		t.Fatalf("empty dir: exit %d\n%s", r.code, r.stderr)
	}
	mustContain(t, "check error", r.stderr, "ledger.db", "state dir")
}
