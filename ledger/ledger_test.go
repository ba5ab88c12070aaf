package ledger

import (
	"context"
	"sync"
	"testing"
	"time"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/wardgate/wardgate/internal/testutil"
)

func TestAppendReopenProofs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir, nil, nil)
	const n = 300
	var wg sync.WaitGroup
	got := make([]Appended, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, err := l.Append(ctx, testEntry(i))
			if err != nil {
				t.Error(err)
			}
			got[i] = a
		}(i)
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, a := range got {
		if seen[a.Seq] {
			t.Fatalf("seq %d handed out twice", a.Seq)
		}
		seen[a.Seq] = true
		if err := a.Entry.VerifySignature(testSigner(t, 7).Public()); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != n {
		t.Fatalf("checkpoint size %d, want %d", cp.Size, n)
	}
	if err := cp.VerifySignature(testSigner(t, 7).Public()); err != nil {
		t.Fatal(err)
	}
	for _, a := range got[:20] {
		p, err := l.tree.inclusion(a.LeafIndex, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := merkleproof.VerifyInclusion(rfc6962.DefaultHasher, a.LeafIndex, cp.Size, a.LeafHash[:], p, cp.Root[:]); err != nil {
			t.Fatalf("inclusion of %d: %v", a.LeafIndex, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, testEntry(1)); err == nil {
		t.Fatal("append after close succeeded")
	}

	// Reopen: the replayed tree has the same root, and appends continue.
	l2 := openTest(t, dir, nil, nil)
	root, err := l2.tree.root(n)
	if err != nil {
		t.Fatal(err)
	}
	if root != cp.Root {
		t.Fatalf("root after reopen %x, want %x", root, cp.Root)
	}
	a, err := l2.Append(ctx, testEntry(n))
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != n {
		t.Fatalf("seq after reopen %d, want %d", a.Seq, n)
	}
	cp2, err := l2.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := l2.Consistency(ctx, cp.Size, cp2.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, cp.Size, cp2.Size, cons, cp.Root[:], cp2.Root[:]); err != nil {
		t.Fatal(err)
	}
	if s := l2.Lookup(got[5].Entry.Digest); len(s) == 0 {
		t.Fatal("digest lookup after reopen found nothing")
	}

	// Another box or key must not reuse the state dir.
	l2.Close()
	if _, err := Open(ctx, Config{Box: "other", StateDir: dir, Signer: testSigner(t, 7)}); err == nil {
		t.Fatal("opened the log of st-mary as box other")
	}
	if _, err := Open(ctx, Config{Box: "st-mary", StateDir: dir, Signer: testSigner(t, 8)}); err == nil {
		t.Fatal("opened a log with a different record key")
	}
}

func TestCheckpointTriggers(t *testing.T) {
	ctx := context.Background()
	// By time: a few entries, a short interval.
	l := openTest(t, t.TempDir(), nil, func(c *Config) { c.CheckpointInterval = 30 * time.Millisecond })
	appendN(t, l, 0, 3)
	testutil.WaitFor(t, "timed checkpoint", func() bool { c := l.Status(ctx).LastCheckpoint; return c != nil && c.Size == 3 })
	// By count: no timer, 16 entries per checkpoint.
	l2 := openTest(t, t.TempDir(), nil, func(c *Config) { c.CheckpointEntries = 16 })
	appendN(t, l2, 0, 15)
	time.Sleep(50 * time.Millisecond)
	if c := l2.Status(ctx).LastCheckpoint; c != nil {
		t.Fatalf("checkpoint at %d before 16 entries", c.Size)
	}
	appendN(t, l2, 15, 1)
	testutil.WaitFor(t, "counted checkpoint", func() bool { c := l2.Status(ctx).LastCheckpoint; return c != nil && c.Size == 16 })
}
