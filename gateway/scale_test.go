package gateway

import (
	"sync"
	"testing"
	"time"
)

// TestTPMGateQuotesFirst: with the TPM busy, a batched quote that arrives
// after waiting activations runs before them.
func TestTPMGateQuotesFirst(t *testing.T) {
	var g tpmGate
	release := g.enter(false) // an activation holds the TPM
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			defer g.enter(false)()
			mu.Lock()
			order = append(order, "activate")
			mu.Unlock()
		})
	}
	time.Sleep(20 * time.Millisecond) // the activations are waiting
	wg.Go(func() {
		defer g.enter(true)()
		mu.Lock()
		order = append(order, "quote")
		mu.Unlock()
	})
	for {
		g.mu.Lock()
		waiting := g.urgent
		g.mu.Unlock()
		if waiting == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	release()
	wg.Wait()
	if order[0] != "quote" {
		t.Fatalf("order = %v, want the quote first", order)
	}
}
