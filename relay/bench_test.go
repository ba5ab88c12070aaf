package relay

import (
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRelayPackets forwards 1400-byte datagrams from one box to
// another through a relay on loopback: the per-packet cost of the relay
// path (both clients and the server, in one process). Sends wait for
// room in the sender's queue, as WireGuard's would on a socket.
func BenchmarkRelayPackets(b *testing.B) {
	r := startRelayTB(b, "hospital-a", "hospital-b")
	a := r.clientTB(b, "hospital-a", "hospital-b")
	c := r.clientTB(b, "hospital-b", "hospital-a")
	for !a.Connected() || !c.Connected() || len(r.srv.Stats().Connected) != 2 {
		time.Sleep(5 * time.Millisecond)
	}
	pkt := make([]byte, 1400)
	b.SetBytes(int64(len(pkt)))
	var got atomic.Int64
	go func() {
		for range c.Packets() {
			got.Add(1)
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.SendPacket("hospital-b", pkt)
	}
	last, quiet := int64(-1), 0
	for got.Load() < int64(b.N) && quiet < 50 {
		if n := got.Load(); n == last {
			quiet++
		} else {
			last, quiet = n, 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(r.srv.Stats().Dropped), "relay-drops")
	b.ReportMetric(float64(c.Stats().Dropped), "rcv-drops")
	b.ReportMetric(float64(a.Stats().Dropped), "snd-drops")
	b.ReportMetric(float64(int64(b.N)-got.Load())/float64(b.N), "lost/op")
}
