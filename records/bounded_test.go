package records

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// Half-open uploads that claim a large Content-Length and send 100 bytes
// cost about what they sent, not what they claimed: the body buffer grows
// with the bytes that arrive. (The server here has no connection caps, to
// measure the buffer alone; the daemon's listeners have them as well.)
func TestHalfOpenUploadsDoNotPinClaimedMemory(t *testing.T) {
	p := newRecPair(t)
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary-big", Delivery{}, func(c *Config) { c.MaxBody = 16 << 20 })
	admit(t, p.f, a, p.b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.r.LANHandler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	const uploads = 300
	before := heapInUse()
	conns := make([]net.Conn, 0, uploads)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range uploads {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /v1/records HTTP/1.1\r\nHost: x\r\nTo: city-general\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%0100d", 16<<20-1, 0)
	}
	time.Sleep(500 * time.Millisecond) // let every handler reach its body read
	grown := int64(heapInUse()) - int64(before)
	t.Logf("%d half-open uploads of 100 bytes claiming 16 MiB: heap grew %d KiB", uploads, grown>>10)
	if grown > 64<<20 {
		t.Fatalf("heap grew %d MiB for %d uploads of 100 bytes", grown>>20, uploads)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
