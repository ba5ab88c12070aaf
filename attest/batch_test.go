package attest_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	gattest "github.com/google/go-attestation/attest"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
)

// batchRig is one box appraised by n verifiers (n hospitals), each with
// its own enrollment and nonces.
type batchRig struct {
	box *box
	vs  []*attest.Verifier
	wg  [32]byte
	rk  []byte
}

func newBatchRig(t *testing.T, n int) *batchRig {
	t.Helper()
	ca, err := devtpm.NewDevCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := openBox(t, dir(t, "b"), ca, goodComponents(), attest.AttesterConfig{})
	m := signedManifest(t, manifestFor("1", goodComponents()...))
	r := &batchRig{box: b}
	r.wg, r.rk = keys()
	for range n {
		v := newVerifier(t, ca, map[string]string{"b": b.att.EKFingerprint()}, nil, m)
		enroll(t, v, b, "b")
		r.vs = append(r.vs, v)
	}
	return r
}

// round has every verifier issue a nonce and the box answer them all in
// one batch; evs[i] is verifier i's answer.
func (r *batchRig) round(t *testing.T) (nonces [][]byte, evs []*attest.Evidence) {
	t.Helper()
	var reqs []attest.BatchRequest
	for _, v := range r.vs {
		n, err := v.Nonce("b")
		if err != nil {
			t.Fatal(err)
		}
		nonces = append(nonces, n)
		reqs = append(reqs, attest.BatchRequest{Nonce: n})
	}
	evs, err := r.box.att.BatchEvidence(testCtx, reqs, r.wg, r.rk)
	if err != nil {
		t.Fatal(err)
	}
	return nonces, evs
}

func (r *batchRig) appraise(t *testing.T, i int, nonce []byte, ev *attest.Evidence) (*attest.Verdict, *attest.Report) {
	t.Helper()
	vd, rep, err := r.vs[i].Appraise(testCtx, "b", nonce, ev, r.wg, r.rk)
	if err != nil {
		t.Fatal(err)
	}
	return vd, rep
}

// TestBatchManyVerifiersOneQuote: N verifiers appraising concurrently all
// pass on one TPM quote, and the quote's signature is verified once.
func TestBatchManyVerifiersOneQuote(t *testing.T) {
	const n = 12
	r := newBatchRig(t, n)
	q0, s0 := devtpm.Quotes(), attest.SigVerifications()
	nonces, evs := r.round(t)
	var wg sync.WaitGroup
	failed := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			vd, _, err := r.vs[i].Appraise(testCtx, "b", nonces[i], evs[i], r.wg, r.rk)
			if err != nil {
				failed <- err.Error()
			} else if !vd.Passed() {
				failed <- fmt.Sprint(vd.Reasons())
			}
		})
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Errorf("a verifier refused the batch: %s", f)
	}
	if q := devtpm.Quotes() - q0; q != 1 {
		t.Fatalf("the TPM quoted %d times for %d verifiers, want 1", q, n)
	}
	if s := attest.SigVerifications() - s0; s != 1 {
		t.Fatalf("the quote signature was verified %d times in one process, want 1 (cached)", s)
	}
}

// TestBatchRefusals: each way a batch can fail to prove this verifier's
// freshness is refused with its own reason.
func TestBatchRefusals(t *testing.T) {
	r := newBatchRig(t, 2)

	t.Run("proof for another verifier's nonce", func(t *testing.T) {
		nonces, evs := r.round(t)
		vd, rep := r.appraise(t, 0, nonces[0], evs[1])
		wantRefused(t, vd, rep, attest.ReasonBatchForeignProof)
	})
	t.Run("nonce not in the tree", func(t *testing.T) {
		mine, err := r.vs[0].Nonce("b")
		if err != nil {
			t.Fatal(err)
		}
		// The box batches other nonces and claims this verifier's is one.
		other := bytes.Repeat([]byte{7}, 32)
		evs, err := r.box.att.BatchEvidence(testCtx, []attest.BatchRequest{{Nonce: other}, {Nonce: bytes.Repeat([]byte{8}, 32)}}, r.wg, r.rk)
		if err != nil {
			t.Fatal(err)
		}
		ev := *evs[0]
		ev.Nonce = mine
		vd, rep := r.appraise(t, 0, mine, &ev)
		wantRefused(t, vd, rep, attest.ReasonBatchNonceNotInTree)
	})
	t.Run("root the quote does not bind", func(t *testing.T) {
		nonces, evs := r.round(t)
		ev := *evs[0]
		b := *ev.Batch
		b.Root = bytes.Repeat([]byte{1}, 32)
		ev.Batch = &b
		vd, rep := r.appraise(t, 0, nonces[0], &ev)
		wantRefused(t, vd, rep, attest.ReasonBatchRootMismatch)
	})
	t.Run("replayed batch", func(t *testing.T) {
		nonces, evs := r.round(t)
		if vd, _ := r.appraise(t, 0, nonces[0], evs[0]); !vd.Passed() {
			t.Fatalf("first presentation refused: %v", vd.Reasons())
		}
		again, err := r.vs[0].Nonce("b")
		if err != nil {
			t.Fatal(err)
		}
		vd, rep := r.appraise(t, 0, again, evs[0])
		wantRefused(t, vd, rep, attest.ReasonBatchReplayed)
	})
}

// TestBatchSingleLeaf: a window with one challenge is a tree of one leaf,
// and still passes.
func TestBatchSingleLeaf(t *testing.T) {
	r := newBatchRig(t, 1)
	nonces, evs := r.round(t)
	if vd, _ := r.appraise(t, 0, nonces[0], evs[0]); !vd.Passed() {
		t.Fatalf("refused: %v", vd.Reasons())
	}
}

// TestSigCacheKeyedBySignature: a quote whose signature was verified once
// does not pass again with another signature, nor under another AK: the
// cache remembers (AK, quote, signature), not the quote alone.
func TestSigCacheKeyedBySignature(t *testing.T) {
	c := newCheckBox(t)
	ev := c.fresh(t)
	c.quoted(t, ev) // verified, and now cached
	forged := *ev
	forged.Signature = softSign(t, mustKey(t), ev.Quote)
	if _, r := attest.CheckQuote(c.ak, &forged); r == nil || r.Code != attest.ReasonQuoteSignature {
		t.Fatalf("a cached quote with another signature: %v, want %s", r, attest.ReasonQuoteSignature)
	}
	attacker := mustKey(t)
	if _, r := attest.CheckQuote(&gattest.AKPublic{Public: &attacker.PublicKey, Hash: crypto.SHA256}, ev); r == nil {
		t.Fatal("a cached quote passed under another AK")
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKnowsOnlyTheActivatedIdentity: re-activation is skipped only for
// the exact EK certificate and AK the verifier activated.
func TestKnowsOnlyTheActivatedIdentity(t *testing.T) {
	r := newBatchRig(t, 1)
	id, err := r.box.att.Identity(testCtx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.vs[0].Knows("b", id) {
		t.Fatal("the activated identity is not known")
	}
	otherAK := *id
	otherAK.AK.Public = bytes.Clone(id.AK.Public)
	otherAK.AK.Public[len(otherAK.AK.Public)-1] ^= 1
	otherEK := *id
	otherEK.EKCert = bytes.Clone(id.EKCert)
	otherEK.EKCert[len(otherEK.EKCert)-1] ^= 1
	for name, x := range map[string]*attest.Identity{"another AK": &otherAK, "another EK": &otherEK} {
		if r.vs[0].Knows("b", x) {
			t.Errorf("%s is taken as the activated identity", name)
		}
	}
	if r.vs[0].Knows("c", id) {
		t.Error("an identity activated for b is known for c")
	}
}
