package ledger

import (
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// tree is the in-memory RFC 9162 Merkle tree of one box's log. It keeps the
// hash of every perfect subtree (about two hashes per leaf), which is all
// that inclusion and consistency proofs, and roots at any past size, need.
// It is rebuilt from the journal on open.
type tree struct {
	mu     sync.RWMutex
	levels [][][32]byte // levels[l][i] is the perfect subtree hash at (l, i)
	rng    *compact.Range
}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

func newTree() *tree {
	return &tree{rng: rangeFactory.NewEmptyRange(0)}
}

// append adds leaf hashes; the caller holds no lock.
func (t *tree) append(leaves [][32]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	visit := func(id compact.NodeID, h []byte) {
		for uint(len(t.levels)) <= id.Level {
			t.levels = append(t.levels, nil)
		}
		lv := t.levels[id.Level]
		if uint64(len(lv)) != id.Index {
			// compact.Range visits every new perfect node exactly once, in
			// order; anything else is a bug in this file.
			panic(fmt.Sprintf("ledger: tree node (%d,%d) out of order, have %d", id.Level, id.Index, len(lv)))
		}
		var n [32]byte
		copy(n[:], h)
		t.levels[id.Level] = append(lv, n)
	}
	for i := range leaves {
		if err := t.rng.Append(leaves[i][:], visit); err != nil {
			panic(err) // Append only fails on hash length, which is fixed
		}
	}
}

func (t *tree) size() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.rng.End()
}

func (t *tree) node(id compact.NodeID) []byte {
	h := t.levels[id.Level][id.Index]
	return h[:]
}

// root returns the root hash of the first size leaves.
func (t *tree) root(size uint64) ([32]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out [32]byte
	if size > t.rng.End() {
		return out, fmt.Errorf("ledger: root at size %d asked of a log of size %d", size, t.rng.End())
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		hashes[i] = t.node(id)
	}
	r, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return out, fmt.Errorf("ledger: compact range at size %d: %w", size, err)
	}
	h, err := r.GetRootHash(nil)
	if err != nil {
		return out, fmt.Errorf("ledger: root at size %d: %w", size, err)
	}
	if size == 0 {
		h = rfc6962.DefaultHasher.EmptyRoot()
	}
	copy(out[:], h)
	return out, nil
}

func (t *tree) fetch(nodes merkleproof.Nodes) ([][]byte, error) {
	t.mu.RLock()
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = t.node(id)
	}
	t.mu.RUnlock()
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// inclusion returns the inclusion proof of leaf index in the tree of size.
func (t *tree) inclusion(index, size uint64) ([][]byte, error) {
	if size > t.size() {
		return nil, fmt.Errorf("ledger: inclusion proof to size %d asked of a log of size %d", size, t.size())
	}
	nodes, err := merkleproof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("ledger: inclusion proof: %w", err)
	}
	return t.fetch(nodes)
}

// consistency returns the consistency proof between sizes size1 <= size2.
func (t *tree) consistency(size1, size2 uint64) ([][]byte, error) {
	if size2 > t.size() {
		return nil, fmt.Errorf("ledger: consistency proof to size %d asked of a log of size %d", size2, t.size())
	}
	nodes, err := merkleproof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("ledger: consistency proof: %w", err)
	}
	return t.fetch(nodes)
}

// rootAfter returns the root the tree will have once leaves are appended,
// without appending them: the committer signs that checkpoint and journals
// it in the same transaction as the leaves.
func (t *tree) rootAfter(leaves [][32]byte) ([32]byte, error) {
	var out [32]byte
	t.mu.RLock()
	hs := t.rng.Hashes()
	cp := make([][]byte, len(hs))
	for i, h := range hs {
		cp[i] = append([]byte(nil), h...)
	}
	end := t.rng.End()
	t.mu.RUnlock()
	r, err := rangeFactory.NewRange(0, end, cp)
	if err != nil {
		return out, fmt.Errorf("ledger: compact range at size %d: %w", end, err)
	}
	for i := range leaves {
		if err := r.Append(leaves[i][:], nil); err != nil {
			return out, err
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return out, err
	}
	copy(out[:], root)
	return out, nil
}
