package records

import (
	"context"
	"sync"
	"time"
)

// cpPacer makes sure a checkpoint covers an entry before its receipt is
// built. Under load (many records waiting) it signs at most one checkpoint
// per interval for all of them; with few waiting it signs at once, so a
// lone record does not wait out the interval. Without it every receipt of a fresh entry would sign and
// journal its own checkpoint: the ledger holds its lock across that fsync,
// so appends, lookups and receipts would queue behind a stream of
// checkpoints, and the journal would fill with them.
type cpPacer struct {
	j        Journal
	interval time.Duration

	mu      sync.Mutex
	covered uint64        // some checkpoint covers every seq below this
	next    chan struct{} // closed when the pending round ends
	err     error         // outcome of the last round
	running bool
	last    time.Time
	waiters int
}

// paceAbove is how many waiting records switch the pacer from "sign now"
// (latency) to "at most one checkpoint per interval" (throughput).
const paceAbove = 8

func newCPPacer(j Journal, interval time.Duration) *cpPacer {
	return &cpPacer{j: j, interval: interval, next: make(chan struct{})}
}

// ensure returns once a checkpoint covers seq.
func (p *cpPacer) ensure(ctx context.Context, seq uint64) error {
	// A ledger that checkpoints each commit already covers it.
	if p.j.CheckpointSize() > seq {
		return nil
	}
	for {
		p.mu.Lock()
		if seq < p.covered {
			p.mu.Unlock()
			return nil
		}
		ch := p.next
		if !p.running {
			p.running = true
			go p.round(context.WithoutCancel(ctx))
		}
		p.waiters++
		p.mu.Unlock()
		var done error
		select {
		case <-ch:
		case <-ctx.Done():
			done = ctx.Err()
		}
		p.mu.Lock()
		p.waiters--
		err, covered := p.err, p.covered
		p.mu.Unlock()
		if done != nil {
			return done
		}
		if err != nil && seq >= covered {
			return err
		}
	}
}

// round waits out the interval, then signs one checkpoint of everything
// appended so far and wakes every waiter.
func (p *cpPacer) round(ctx context.Context) {
	// Give a burst a moment to gather, then decide: pace if it is a crowd.
	time.Sleep(200 * time.Microsecond)
	p.mu.Lock()
	wait := time.Until(p.last.Add(p.interval))
	crowd := p.waiters > paceAbove
	p.mu.Unlock()
	if crowd && wait > 0 {
		time.Sleep(wait)
	}
	cp, err := p.j.Checkpoint(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
	if err == nil && cp.Size > p.covered {
		p.covered = cp.Size
	}
	p.last = time.Now()
	p.running = false
	close(p.next)
	p.next = make(chan struct{})
}
