package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/gateway/control"
)

// A box whose peers are healthy logs nothing at INFO or above in steady
// state: renewals every interval go to DEBUG; state changes (an
// admission, a revocation) are logged once, when they happen. At 200
// peers, a line per renewal was about 100 lines a second.
func TestSteadyStateQuiet(t *testing.T) {
	c := newConsortium(t, []string{"a", "b"})
	a, b := c.boxes["a"], c.boxes["b"]
	a.start(t)
	b.start(t)
	admittedP := func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted }
	a.waitPeer(t, "b", "admitted", admittedP)
	b.waitPeer(t, "a", "admitted", admittedP)
	time.Sleep(1500 * time.Millisecond) // the first renewal (interval 1s) is steady state already
	from := a.log.len()
	time.Sleep(3500 * time.Millisecond) // three more renewals each way
	steady := a.log.since(from)
	if !strings.Contains(steady, "level=DEBUG") {
		t.Fatalf("no DEBUG lines in steady state either: is the box renewing at all?\n%s", steady)
	}
	for _, line := range strings.Split(steady, "\n") {
		if strings.Contains(line, "level=INFO") || strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Errorf("steady state logged: %s", line)
		}
	}
}
