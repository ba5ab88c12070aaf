package ledger

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestOnSyncTimesEachCommit: the operator's fdatasync histogram
// (wardgate_journal_sync_seconds) sees one observation per group commit,
// each the time the WAL's fdatasync took.
func TestOnSyncTimesEachCommit(t *testing.T) {
	var mu sync.Mutex
	var got []time.Duration
	l := openTest(t, t.TempDir(), nil, func(c *Config) {
		c.OnSync = func(d time.Duration) { mu.Lock(); got = append(got, d); mu.Unlock() }
	})
	for i := range 3 {
		if _, err := l.Append(context.Background(), testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("OnSync called %d times for 3 sequential appends, want 3", len(got))
	}
	for _, d := range got {
		if d <= 0 {
			t.Errorf("OnSync reported %v, want a positive fdatasync latency", d)
		}
	}
}
