package attest_test

import (
	"testing"

	"github.com/wardgate/wardgate/attest"
)

// Run with: go test -run '^$' -bench 'Evidence|Appraise' -cpu 1 ./attest
// -cpu 1 makes ns/op and appraisals/s per core.

func benchBox(b *testing.B) (*box, *attest.Verifier, [32]byte, []byte) {
	ca := mustCA(b)
	bx := openBox(b, dir(b, "b"), ca, goodComponents(), attest.AttesterConfig{})
	v := newVerifier(b, ca, map[string]string{peer: bx.att.EKFingerprint()}, nil,
		signedManifest(b, manifestFor("1", goodComponents()...)))
	enroll(b, v, bx, peer)
	wg, rk := keys()
	return bx, v, wg, rk
}

// BenchmarkEvidence is the attester's cost: a TPM quote over the policy
// PCRs plus reading them, on the in-process simulator.
func BenchmarkEvidence(b *testing.B) {
	bx, v, wg, rk := benchBox(b)
	defer bx.close()
	nonce, _ := v.Nonce(peer)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bx.att.Evidence(testCtx, nonce, wg, rk); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evidence/s")
}

// BenchmarkAppraise is the verifier's cost for one piece of evidence. The
// nonce is re-issued inside the loop (a map insert) so every iteration runs
// the full appraisal on valid, fresh evidence. The baseline is the quote
// signature check alone, measured in the same run.
func BenchmarkAppraise(b *testing.B) {
	bx, v, wg, rk := benchBox(b)
	ev := evidence(b, v, bx, peer, wg, rk)
	raw, _ := ev.Marshal()
	bx.close()
	reissue := func() { v.ReissueNonce(peer, ev.Nonce) }
	ak, _ := v.ActivatedAK(peer)

	b.Run("baseline-quote-signature", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := attest.VerifyQuoteSignature(ak, ev.Quote, ev.Signature); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
	})
	b.Run("full", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			reissue()
			vd, _, err := v.Appraise(testCtx, peer, ev.Nonce, ev, wg, rk)
			if err != nil || !vd.Passed() {
				b.Fatalf("%v %v", err, vd.Reasons())
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appraisals/s")
	})
	b.Run("full-from-wire", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			reissue()
			vd, r, err := v.AppraiseBytes(testCtx, peer, ev.Nonce, raw, wg, rk)
			if err != nil || !vd.Passed() {
				b.Fatalf("%v %v", err, vd.Reasons())
			}
			if _, err := r.Marshal(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appraisals/s")
	})
}
