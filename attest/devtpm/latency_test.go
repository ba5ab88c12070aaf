package devtpm_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest/devtpm"
)

// TestLatencySerialises: with a quote latency set, quotes take at least
// that long each and run one at a time, as on a discrete TPM, and the
// simulator counts them.
func TestLatencySerialises(t *testing.T) {
	const lat = 50 * time.Millisecond
	tp, err := devtpm.OpenSimulatorWith(dir(t, "slow"), devtpm.Latency{devtpm.CmdQuote: lat})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	d := dir(t, "slow-state")
	a, _ := boot(t, tp, mustCA(t), d)
	q0 := devtpm.Quotes()
	start := time.Now()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			var k [32]byte
			if _, err := a.Evidence(testCtx, make([]byte, 32), k, make([]byte, 32)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := devtpm.Quotes() - q0; got != 3 {
		t.Fatalf("simulator counted %d quotes, want 3", got)
	}
	// A lower bound, not a speed target: three serialised quotes cannot
	// take less than three latencies.
	if el := time.Since(start); el < 3*lat {
		t.Fatalf("3 quotes took %s, less than 3 x %s: not serialised", el, lat)
	}
}

func TestLatencyUnknownCommand(t *testing.T) {
	_, err := devtpm.OpenSimulatorWith(dir(t, "x"), devtpm.Latency{"qoute": time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), `unknown command "qoute"`) {
		t.Fatalf("err = %v, want the unknown command named", err)
	}
}
