package tick

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func(context.Context) {
			if n.Add(1) == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if n.Load() != 3 {
		t.Fatalf("f ran %d times, want 3 (none after cancel)", n.Load())
	}
}

func TestNowAndEveryCallsFirstAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	NowAndEvery(ctx, time.Hour, func(context.Context) { calls++; cancel() })
	if calls != 1 {
		t.Fatalf("f ran %d times, want once, at once", calls)
	}
	NowAndEvery(ctx, time.Hour, func(context.Context) { calls++ })
	if calls != 1 {
		t.Fatal("f ran with its context already ended")
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) || !Sleep(context.Background(), 0) {
		t.Fatal("Sleep on a live context said stop")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) || Sleep(ctx, 0) {
		t.Fatal("Sleep on an ended context said go on")
	}
}
