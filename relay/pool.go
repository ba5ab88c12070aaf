package relay

import "sync"

// Datagram-sized buffers are recycled: at a few hundred thousand packets
// a second, allocating each frame was a fifth of the relay path's CPU.
const poolBuf = 2048

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, poolBuf); return &b }}

// getBuf is an empty buffer with room for n bytes, pooled when small.
func getBuf(n int) []byte {
	if n > poolBuf {
		return make([]byte, 0, n)
	}
	return (*bufPool.Get().(*[]byte))[:0]
}

// putBuf recycles a buffer from getBuf once nobody holds it.
func putBuf(b []byte) {
	if cap(b) == poolBuf {
		b = b[:0]
		bufPool.Put(&b)
	}
}

// Release hands back the Data of a Packet once it has been copied out.
func (p Packet) Release() { putBuf(p.Data) }
