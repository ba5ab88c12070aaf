package proof_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
)

// Every message of every batch size verifies on its own; a changed message,
// a moved index, a cut path or another key is refused.
func TestBatchSignature(t *testing.T) {
	s := testSigner(t, 3)
	other := testSigner(t, 4).Public()
	for _, n := range []int{1, 2, 3, 5, 8, 13, 64, 255, 256} {
		msgs := make([][]byte, n)
		leaves := make([][32]byte, n)
		for i := range msgs {
			msgs[i] = fmt.Appendf(nil, "message %d of %d", i, n)
			leaves[i] = proof.BatchLeaf(msgs[i])
		}
		sig, proofs, err := proof.SignBatch(s, "test", leaves)
		if err != nil {
			t.Fatal(err)
		}
		cache := proof.NewSigCache(16)
		for i := range msgs {
			if err := proof.VerifyBatch(s.Public(), "test", msgs[i], proofs[i], sig, cache); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := proof.VerifyBatch(s.Public(), "test", msgs[i], proofs[i], sig, nil); err != nil {
				t.Fatalf("n=%d i=%d uncached: %v", n, i, err)
			}
			bad := [][]byte{append([]byte("x"), msgs[i]...)}
			for _, m := range bad {
				if err := proof.VerifyBatch(s.Public(), "test", m, proofs[i], sig, cache); !errors.Is(err, proof.ErrBadSignature) {
					t.Fatalf("n=%d i=%d: changed message: %v", n, i, err)
				}
			}
			if err := proof.VerifyBatch(s.Public(), "other-domain", msgs[i], proofs[i], sig, cache); !errors.Is(err, proof.ErrBadSignature) {
				t.Fatalf("n=%d i=%d: other domain: %v", n, i, err)
			}
			if err := proof.VerifyBatch(other, "test", msgs[i], proofs[i], sig, cache); !errors.Is(err, proof.ErrBadSignature) {
				t.Fatalf("n=%d i=%d: other key: %v", n, i, err)
			}
			if n > 1 {
				p := proofs[i]
				p.Index = (p.Index + 1) % p.Size
				if err := proof.VerifyBatch(s.Public(), "test", msgs[i], p, sig, cache); !errors.Is(err, proof.ErrBadSignature) {
					t.Fatalf("n=%d i=%d: moved index: %v", n, i, err)
				}
				p = proofs[i]
				p.Path = p.Path[:len(p.Path)-1]
				if err := proof.VerifyBatch(s.Public(), "test", msgs[i], p, sig, cache); !errors.Is(err, proof.ErrBadSignature) {
					t.Fatalf("n=%d i=%d: cut path: %v", n, i, err)
				}
			}
		}
	}
	// Unbatched form: a plain signature over the message.
	m := []byte("single")
	if err := proof.VerifyBatch(s.Public(), "test", m, proof.BatchProof{}, ed25519.Sign(ed25519.NewKeyFromSeed(make32(3)), m), nil); err != nil {
		t.Fatal(err)
	}
}

// Entries appended together share one signature, yet each verifies alone
// and survives its stored form.
func TestSignEntriesBatch(t *testing.T) {
	s := testSigner(t, 5)
	es := make([]*proof.Entry, 300)
	for i := range es {
		es[i] = &proof.Entry{Kind: proof.KindSent, Digest: proof.Digest([]byte{byte(i)}), Sender: "a", Receiver: "b", ContentType: "x", Log: "a", Seq: uint64(i)}
	}
	data, err := proof.SignEntries(s, es)
	if err != nil {
		t.Fatal(err)
	}
	if string(es[0].Signature) != string(es[255].Signature) || string(es[0].Signature) == string(es[256].Signature) {
		t.Fatal("want one signature per 256 entries")
	}
	for i, d := range data {
		var e proof.Entry
		if err := e.UnmarshalBinary(d); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if err := e.VerifySignature(s.Public()); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		e.Digest[0] ^= 1
		if err := e.VerifySignature(s.Public()); !errors.Is(err, proof.ErrBadSignature) {
			t.Fatalf("entry %d tampered: %v", i, err)
		}
	}
}
