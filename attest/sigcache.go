package attest

import (
	"container/list"
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"sync/atomic"

	gattest "github.com/google/go-attestation/attest"
)

// A batched quote reaches every verifier of a box at once. In one process
// (a test harness, or a verifier appraising many boxes' batches) the same
// quote and signature must not be verified N times: verified signatures
// are remembered by the digest of (AK, quote, signature), in a bounded
// LRU shared by all verifiers. Only successes are cached, and the AK is in
// the key, so a hit proves exactly what a verification would.

const sigCacheSize = 4096

type sigCache struct {
	mu    sync.Mutex
	order *list.List // front is most recent; values are *sigEntry
	index map[[32]byte]*list.Element
}

// sigEntry is one verification, run once however many verifiers ask for
// it at the same moment.
type sigEntry struct {
	key  [32]byte
	once sync.Once
	err  error
}

var quoteSigs = &sigCache{order: list.New(), index: map[[32]byte]*list.Element{}}

// sigVerifications counts the signature verifications actually run.
var sigVerifications atomic.Int64

// entry returns the key's entry, adding it (and evicting the least recent
// one past sigCacheSize) if it is new.
func (c *sigCache) entry(k [32]byte) *sigEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*sigEntry)
	}
	se := &sigEntry{key: k}
	c.index[k] = c.order.PushFront(se)
	if c.order.Len() > sigCacheSize {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.index, old.Value.(*sigEntry).key)
	}
	return se
}

// forget drops a failed verification, so that bad signatures do not
// crowd out good ones.
func (c *sigCache) forget(se *sigEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[se.key]; ok && e.Value.(*sigEntry) == se {
		c.order.Remove(e)
		delete(c.index, se.key)
	}
}

func sigKey(ak *gattest.AKPublic, quote, sig []byte) ([32]byte, bool) {
	der, err := x509.MarshalPKIXPublicKey(ak.Public)
	if err != nil {
		return [32]byte{}, false
	}
	h := sha256.New()
	for _, b := range [][]byte{der, quote, sig} {
		var n [8]byte
		for i := range n {
			n[i] = byte(uint64(len(b)) >> (8 * i))
		}
		h.Write(n[:])
		h.Write(b)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k, true
}

// verifyQuoteSignatureCached is verifyQuoteSignature behind the cache.
func verifyQuoteSignatureCached(ak *gattest.AKPublic, quote, sig []byte) error {
	k, ok := sigKey(ak, quote, sig)
	if !ok {
		sigVerifications.Add(1)
		return verifyQuoteSignature(ak, quote, sig)
	}
	se := quoteSigs.entry(k)
	se.once.Do(func() {
		sigVerifications.Add(1)
		se.err = verifyQuoteSignature(ak, quote, sig)
	})
	if se.err != nil {
		quoteSigs.forget(se)
	}
	return se.err
}
