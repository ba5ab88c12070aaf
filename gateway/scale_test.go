package gateway

import (
	"sync"
	"testing"
	"time"
)

// TestTPMGateQuotesFirst: with the TPM busy, a batched quote that arrives
// after waiting activations runs before them, every time.
func TestTPMGateQuotesFirst(t *testing.T) {
	for range 5 {
		if order := gateOrder(); order[0] != "quote" {
			t.Fatalf("order = %v, want the quote first", order)
		}
	}
}

// gateOrder is the order in which three waiting activations, a later
// quote and the releasing caller's next activation get a busy gate.
func gateOrder() []string {
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
	// The releasing caller asks again at once, as a box's next activation
	// would: holding the CPU, it would win any race it were allowed.
	release()
	func() {
		defer g.enter(false)()
		mu.Lock()
		order = append(order, "activate")
		mu.Unlock()
	}()
	wg.Wait()
	return order
}
