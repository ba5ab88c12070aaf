package ledger

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/store"
)

// copyDir snapshots a state dir as a crash would leave it (files as written).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// Entries acknowledged from the write-ahead log but not yet applied to
// bbolt survive a crash, and a torn record at the log's tail (written,
// never acknowledged) is dropped without losing the ones before it.
func TestWALReplayAfterCrash(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir, testutil.QuietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	var data [][]byte
	for i := 0; i < 5; i++ {
		e := testEntry(i)
		e.Log, e.Seq, e.Signature = "st-mary", uint64(i), make([]byte, 64)
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	if err := j.appendEntries(0, data, []byte(`{"size":5}`)); err != nil {
		t.Fatal(err)
	}
	// The crash: the files as they are now, the applier not yet run
	// (it runs every 100ms; nothing has been applied within this test's time).
	crashed := copyDir(t, dir)
	gens, _ := walFiles(osFS{}, crashed)
	if len(gens) != 1 {
		t.Fatalf("%d WAL files, want 1", len(gens))
	}
	f, err := os.OpenFile(walName(crashed, gens[0]), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, store.WALEntry, 0, 0}) // a torn record
	f.Close()

	r, err := openJournal(crashed, testutil.QuietLogger())
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer r.close()
	for i := range data {
		e, err := r.entry(uint64(i))
		if err != nil {
			t.Fatalf("entry %d lost: %v", i, err)
		}
		if e.Seq != uint64(i) {
			t.Fatalf("entry %d reads back as seq %d", i, e.Seq)
		}
	}
	if _, err := r.entry(5); err == nil {
		t.Fatal("torn record replayed as an entry")
	}
	var cp struct{ Size int }
	if ok, err := r.getJSON(bucketCheckpoints, u64key(5), &cp); !ok || err != nil || cp.Size != 5 {
		t.Fatalf("checkpoint lost: %v %v", ok, err)
	}
	if gens, _ := walFiles(osFS{}, crashed); len(gens) != 1 {
		t.Fatalf("replayed WAL files not removed: %v", gens)
	}
}
