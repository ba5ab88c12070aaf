package records

import (
	"sync"

	"github.com/wardgate/wardgate/records/receipt"
)

// csCache keeps recent countersignatures in memory, bounded, oldest evicted.
type csCache struct {
	mu    sync.Mutex
	max   int
	m     map[csKey]*receipt.Countersign
	order []csKey
}

type csKey struct {
	digest [32]byte
	peer   string
}

func newCSCache(max int) *csCache { return &csCache{max: max, m: make(map[csKey]*receipt.Countersign)} }

func (c *csCache) put(d [32]byte, peer string, cs *receipt.Countersign) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := csKey{d, peer}
	if _, ok := c.m[k]; !ok {
		c.order = append(c.order, k)
	}
	c.m[k] = cs
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *csCache) get(d [32]byte, peer string) *receipt.Countersign {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[csKey{d, peer}]
}
