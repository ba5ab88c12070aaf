// Package tick runs a watcher's work on a period until its context ends,
// and waits out a delay unless the context ends first. The daemon has a
// dozen such loops (path probes, endpoint probes, runtime measurement,
// witnessing, anchoring watch); each used to carry its own copy of the
// ticker and select.
package tick

import (
	"context"
	"time"
)

// Every calls f every period until ctx ends; the first call comes after
// one period. f runs on the caller's goroutine, so a slow f delays the
// next call rather than overlapping it.
func Every(ctx context.Context, period time.Duration, f func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f(ctx)
	}
}

// NowAndEvery calls f at once, then every period until ctx ends.
func NowAndEvery(ctx context.Context, period time.Duration, f func(context.Context)) {
	if ctx.Err() != nil {
		return
	}
	f(ctx)
	Every(ctx, period, f)
}

// Sleep waits d, or until ctx ends; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
