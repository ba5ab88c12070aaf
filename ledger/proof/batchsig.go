package proof

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Batch signatures: one Ed25519 signature covers the RFC 9162 Merkle root of
// a batch of messages, and each message carries its inclusion path to that
// root. Each message stays verifiable on its own (path + root signature),
// while a batch of N costs one signing operation instead of N, and a
// verifier that caches roots it has checked pays one verification per batch.
// It is the construction of the IETF TLS batch-signing draft; the box needs
// it because per-record Ed25519 alone would cap the record path below the
// throughput target on two cores.

// BatchProof places one signed message in its signing batch. Size 0 means
// no batch: the signature covers the message itself.
type BatchProof struct {
	Index uint32 `json:"index"`
	Size  uint32 `json:"size"`
	Path  []Hash `json:"path,omitempty"` // sibling hashes, leaf to root
}

// MaxBatchSign is the largest batch one signature covers; it keeps the path
// in every entry at 8 hashes (256 bytes).
const MaxBatchSign = 256

// maxBatchPath bounds a parsed path (a batch of up to 2^16 messages).
const maxBatchPath = 16

// batchMessage is what the signature covers: the domain of the messages,
// the batch root and its size.
func batchMessage(domain string, root [32]byte, size uint32) []byte {
	b := make([]byte, 0, len(batchDomain)+len(domain)+36)
	b = append(b, batchDomain...)
	b = append(b, domain...)
	b = append(b, root[:]...)
	return binary.BigEndian.AppendUint32(b, size)
}

const batchDomain = "wardgate/batch-signature/v1\x00"

// BatchLeaf is the leaf hash of one message of a batch.
func BatchLeaf(msg []byte) [32]byte {
	var h [32]byte
	copy(h[:], rfc6962.DefaultHasher.HashLeaf(msg))
	return h
}

// SignBatch signs the root over leaves (BatchLeaf of each message) and
// returns the signature and each leaf's merkleproof. Callers keep batches to
// MaxBatchSign so that paths stay short.
func SignBatch(s Signer, domain string, leaves [][32]byte) ([]byte, []BatchProof, error) {
	if len(leaves) == 0 || len(leaves) > 1<<maxBatchPath {
		return nil, nil, fmt.Errorf("proof: batch of %d messages, want 1..%d", len(leaves), 1<<maxBatchPath)
	}
	proofs := make([]BatchProof, len(leaves))
	depth := 0
	for 1<<depth < len(leaves) {
		depth++
	}
	paths := make([]Hash, len(leaves)*depth) // one backing array for every path
	for i := range proofs {
		proofs[i] = BatchProof{Index: uint32(i), Size: uint32(len(leaves)), Path: paths[i*depth : i*depth : (i+1)*depth]}
	}
	root := batchRoot(leaves, proofs, 0, len(leaves))
	sig, err := s.Sign(batchMessage(domain, root, uint32(len(leaves))))
	if err != nil {
		return nil, nil, fmt.Errorf("proof: signing batch: %w", err)
	}
	return sig, proofs, nil
}

// batchRoot computes the RFC 9162 root of leaves[lo:hi] and appends, to the
// path of every leaf below, the sibling on its way up (deepest first).
func batchRoot(leaves [][32]byte, proofs []BatchProof, lo, hi int) [32]byte {
	if hi-lo == 1 {
		return leaves[lo]
	}
	k := 1
	for k<<1 < hi-lo {
		k <<= 1
	}
	l := batchRoot(leaves, proofs, lo, lo+k)
	r := batchRoot(leaves, proofs, lo+k, hi)
	for i := lo; i < lo+k; i++ {
		proofs[i].Path = append(proofs[i].Path, r)
	}
	for i := lo + k; i < hi; i++ {
		proofs[i].Path = append(proofs[i].Path, l)
	}
	var h [32]byte
	copy(h[:], rfc6962.DefaultHasher.HashChildren(l[:], r[:]))
	return h
}

// VerifyBatch checks msg's signature: directly when p.Size is 0, else
// through p to a signed batch root. A non-nil cache remembers roots already
// verified, so the rest of a batch costs only its path hashes.
func VerifyBatch(pub ed25519.PublicKey, domain string, msg []byte, p BatchProof, sig []byte, cache *SigCache) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: key is %d bytes, want %d", ErrBadSignature, len(pub), ed25519.PublicKeySize)
	}
	if p.Size == 0 {
		if len(p.Path) != 0 || p.Index != 0 {
			return fmt.Errorf("%w: unbatched signature carries a batch path", ErrBadSignature)
		}
		if !ed25519.Verify(pub, msg, sig) {
			return fmt.Errorf("%w: signature does not verify", ErrBadSignature)
		}
		return nil
	}
	if p.Index >= p.Size {
		return fmt.Errorf("%w: batch index %d is not below batch size %d", ErrBadSignature, p.Index, p.Size)
	}
	leaf := BatchLeaf(msg)
	path := make([][]byte, len(p.Path))
	for i := range p.Path {
		path[i] = p.Path[i][:]
	}
	r, err := merkleproof.RootFromInclusionProof(rfc6962.DefaultHasher, uint64(p.Index), uint64(p.Size), leaf[:], path)
	if err != nil {
		return fmt.Errorf("%w: batch path: %w", ErrBadSignature, err)
	}
	var root [32]byte
	copy(root[:], r)
	m := batchMessage(domain, root, p.Size)
	var key [32]byte
	if cache != nil {
		h := sha256.New()
		h.Write(pub)
		h.Write(m)
		h.Write(sig)
		h.Sum(key[:0])
		if cache.has(key) {
			return nil
		}
	}
	if !ed25519.Verify(pub, m, sig) {
		return fmt.Errorf("%w: batch signature does not verify", ErrBadSignature)
	}
	if cache != nil {
		cache.add(key)
	}
	return nil
}

// SigCache remembers batch roots whose signatures verified. It is bounded:
// when full, the older half is forgotten. Safe for concurrent use.
type SigCache struct {
	mu       sync.Mutex
	max      int
	cur, old map[[32]byte]struct{}
}

// NewSigCache returns a cache of about max verified roots.
func NewSigCache(max int) *SigCache {
	return &SigCache{max: max, cur: make(map[[32]byte]struct{})}
}

func (c *SigCache) has(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return true
	}
	_, ok := c.old[k]
	return ok
}

func (c *SigCache) add(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= c.max/2 {
		c.old, c.cur = c.cur, make(map[[32]byte]struct{})
	}
	c.cur[k] = struct{}{}
}

// appendProof encodes p: index, size, path length, path.
func appendProof(b []byte, p BatchProof) []byte {
	b = binary.BigEndian.AppendUint32(b, p.Index)
	b = binary.BigEndian.AppendUint32(b, p.Size)
	b = append(b, byte(len(p.Path)))
	for _, h := range p.Path {
		b = append(b, h[:]...)
	}
	return b
}

// parseProof decodes what appendProof wrote and returns the rest.
func parseProof(b []byte) (BatchProof, []byte, error) {
	var p BatchProof
	if len(b) < 9 {
		return p, nil, fmt.Errorf("%w: truncated batch proof", ErrBadEntry)
	}
	p.Index = binary.BigEndian.Uint32(b)
	p.Size = binary.BigEndian.Uint32(b[4:])
	n := int(b[8])
	b = b[9:]
	if n > maxBatchPath || len(b) < 32*n {
		return p, nil, fmt.Errorf("%w: batch path of %d hashes (limit %d) in %d bytes", ErrBadEntry, n, maxBatchPath, len(b))
	}
	if n > 0 {
		p.Path = make([]Hash, n)
		for i := range p.Path {
			copy(p.Path[i][:], b[32*i:])
		}
	}
	return p, b[32*n:], nil
}

// AppendBatchProof and ParseBatchProof are the wire form of a BatchProof,
// for other packages' signed messages (the relay's countersignatures).
func AppendBatchProof(b []byte, p BatchProof) []byte { return appendProof(b, p) }

// ParseBatchProof decodes a proof written by AppendBatchProof and returns
// the bytes after it.
func ParseBatchProof(b []byte) (BatchProof, []byte, error) { return parseProof(b) }
