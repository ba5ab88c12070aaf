package attest

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// A batched quote answers every challenge that reached a box within one
// window with one TPM quote: the window's nonces are the leaves of an
// RFC 6962 Merkle tree, the quote's extraData binds the tree's root, and
// each verifier gets the quote with the inclusion proof of its own nonce.
// Each verifier's freshness guarantee is unchanged (its nonce is in the
// signed tree), while the box quotes once per window however many peers
// it has: a discrete TPM needs 50-200 ms per quote and serialises them.

// BatchProtocolVersion labels evidence that carries a batched quote.
const BatchProtocolVersion = "wardgate/attest/v2"

// batchDomain separates batched extraData from the single-nonce binding,
// so that a root can never be read as a nonce or the other way round.
const batchDomain = "wardgate/attest/v2/batch"

// MaxBatchLeaves bounds one batch (and so a proof's length): a box with
// more challenges in one window starts another batch.
const MaxBatchLeaves = 1024

// maxProofLen is the longest inclusion path in a MaxBatchLeaves tree.
const maxProofLen = 10

var batchHasher = rfc6962.New(crypto.SHA256)

// BatchProof is a verifier's inclusion proof: its nonce is leaf Index of a
// tree of Size leaves whose root the quote binds.
type BatchProof struct {
	Root  []byte   `json:"root"`
	Index uint64   `json:"index"`
	Size  uint64   `json:"size"`
	Path  [][]byte `json:"path"`
}

func (p *BatchProof) check() error {
	switch {
	case len(p.Root) != sha256.Size:
		return fmt.Errorf("%w: evidence: field \"batch.root\" is %d bytes, want 32", ErrMalformed, len(p.Root))
	case p.Size == 0 || p.Size > MaxBatchLeaves:
		return fmt.Errorf("%w: evidence: field \"batch.size\" is %d, want 1..%d", ErrMalformed, p.Size, MaxBatchLeaves)
	case p.Index >= p.Size:
		return fmt.Errorf("%w: evidence: field \"batch.index\" %d is not below batch.size %d", ErrMalformed, p.Index, p.Size)
	case len(p.Path) > maxProofLen:
		return fmt.Errorf("%w: evidence: field \"batch.path\" has %d hashes, at most %d", ErrMalformed, len(p.Path), maxProofLen)
	}
	for _, h := range p.Path {
		if len(h) != sha256.Size {
			return fmt.Errorf("%w: evidence: field \"batch.path\" holds a %d-byte hash, want 32", ErrMalformed, len(h))
		}
	}
	return nil
}

// includes says whether nonce is the proof's leaf under its root.
func (p *BatchProof) includes(nonce []byte) bool {
	return proof.VerifyInclusion(batchHasher, p.Index, p.Size, batchHasher.HashLeaf(nonce), p.Path, p.Root) == nil
}

// BatchBindingData is a batched quote's extraData:
// SHA-256("wardgate/attest/v2/batch" || root || wgKey || recordKey).
func BatchBindingData(root []byte, wgKey [32]byte, recordKey ed25519.PublicKey) []byte {
	h := sha256.New()
	h.Write([]byte(batchDomain))
	h.Write(root)
	h.Write(wgKey[:])
	h.Write(recordKey)
	return h.Sum(nil)
}

// nonceTree is the Merkle tree over one window's nonces.
type nonceTree struct{ leaves [][]byte }

func (t nonceTree) root() []byte { return subtreeHash(t.leaves) }

// path is RFC 6962's PATH(index, leaves): the audit path of one leaf.
func (t nonceTree) path(index int) [][]byte { return auditPath(index, t.leaves) }

func subtreeHash(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return batchHasher.EmptyRoot()
	case 1:
		return batchHasher.HashLeaf(leaves[0])
	}
	k := splitPoint(len(leaves))
	return batchHasher.HashChildren(subtreeHash(leaves[:k]), subtreeHash(leaves[k:]))
}

func auditPath(m int, leaves [][]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := splitPoint(len(leaves))
	if m < k {
		return append(auditPath(m, leaves[:k]), subtreeHash(leaves[k:]))
	}
	return append(auditPath(m-k, leaves[k:]), subtreeHash(leaves[:k]))
}

// splitPoint is the largest power of two below n (RFC 6962, 2.1).
func splitPoint(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// checkNonceBounds is the one rule for nonce sizes an attester accepts.
func checkNonceBounds(nonce []byte) error {
	if len(nonce) < 16 || len(nonce) > 64 {
		return fmt.Errorf("nonce is %d bytes, want 16..64", len(nonce))
	}
	return nil
}

// checkBatchRequest refuses a batch the attester cannot quote.
func checkBatchRequest(nonces [][]byte, recordKey ed25519.PublicKey) error {
	if len(nonces) == 0 || len(nonces) > MaxBatchLeaves {
		return fmt.Errorf("attest: batch evidence: %d nonces, want 1..%d", len(nonces), MaxBatchLeaves)
	}
	for i, n := range nonces {
		if err := checkNonceBounds(n); err != nil {
			return fmt.Errorf("attest: batch evidence: nonce %d: %w", i, err)
		}
	}
	if len(recordKey) != ed25519.PublicKeySize {
		return fmt.Errorf("attest: batch evidence: record key is %d bytes, want %d", len(recordKey), ed25519.PublicKeySize)
	}
	return nil
}

// spentBatches remembers, per verifier, the batched quotes it has taken
// from each peer: each verifier takes one leaf of a batch, so a second
// presentation of the same quote is a replay.
type spentBatches map[string]time.Time // peer + quote digest -> forget after

func batchKey(peer string, quote []byte) string {
	d := sha256.Sum256(quote)
	return peer + "\x00" + string(d[:])
}

// checkBatch runs the batch's own checks, before the nonce is spent: the
// quote is new to this verifier, its extraData binds the proof's root, and
// the round's nonce is a leaf under that root. round is the round's leaf:
// its nonce, or that nonce bound to the verifier's TLS session
// (checkChannel). Called only for evidence that carries a batch proof.
func (v *Verifier) checkBatch(peer string, round []byte, ev *Evidence, att *tpm2.AttestationData, now time.Time) *Reason {
	if r := v.spendBatch(peer, ev.Quote, now); r != nil {
		return r
	}
	var evKey [32]byte
	copy(evKey[:], ev.WireGuardKey)
	b := ev.Batch
	if !bytes.Equal(att.ExtraData, BatchBindingData(b.Root, evKey, ev.RecordKey)) {
		return reasonf(ReasonBatchRootMismatch, "the batch root %x is not the one the quote's extraData binds", b.Root[:8])
	}
	if !bytes.Equal(ev.Nonce, round) && b.includes(ev.Nonce) {
		return reasonf(ReasonBatchForeignProof, "the inclusion proof is for another verifier's nonce (leaf %d of %d), not this round's", b.Index, b.Size)
	}
	if !b.includes(round) {
		return reasonf(ReasonBatchNonceNotInTree, "this round's nonce is not leaf %d of the quoted batch of %d", b.Index, b.Size)
	}
	return nil
}

// spendBatch records the batch quote as taken, or says it already was.
func (v *Verifier) spendBatch(peer string, quote []byte, now time.Time) *Reason {
	k := batchKey(peer, quote)
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.batches[k]; ok {
		return reasonf(ReasonBatchReplayed, "this batched quote was already presented to this verifier")
	}
	if len(v.batches) >= 4096 {
		for key, t := range v.batches {
			if now.After(t) {
				delete(v.batches, key)
			}
		}
	}
	v.batches[k] = now.Add(4 * v.cfg.NonceTTL)
	return nil
}

var errNoBatch = errors.New("attest: evidence: a v2 evidence message needs field \"batch\"")
