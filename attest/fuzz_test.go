package attest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/firmware"
)

func syntheticEvidence() []byte {
	ev := attest.Evidence{
		Version: attest.ProtocolVersion, Nonce: bytes.Repeat([]byte{1}, 32), WireGuardKey: make([]byte, 32),
		RecordKey: make([]byte, 32), HashAlg: "sha256", Quote: []byte{0xff, 0x54, 0x43, 0x47}, Signature: []byte{0, 0x18},
		PCRs: []attest.PCRValue{{Index: 0, Digest: make([]byte, 32)}, {Index: 9, Digest: make([]byte, 32)}}, EventLog: []byte{3, 0, 0, 0},
	}
	b, _ := json.Marshal(ev)
	return b
}

// syntheticBatchEvidence is v2 evidence with a batch proof and a runtime
// list, the shapes batched quotes and runtime integrity add.
func syntheticBatchEvidence() []byte {
	var ev attest.Evidence
	_ = json.Unmarshal(syntheticEvidence(), &ev)
	ev.Version = attest.BatchProtocolVersion
	ev.Batch = &attest.BatchProof{Root: make([]byte, 32), Index: 1, Size: 3, Path: [][]byte{make([]byte, 32), make([]byte, 32)}}
	ev.Runtime = &attest.RuntimeLog{From: 2, Entries: []byte{10, 0, 0, 0}}
	b, _ := json.Marshal(ev)
	return b
}

// checkParse asserts the parser contract: an error wraps ErrMalformed, and
// a success re-encodes to something that parses again.
func checkParse[T any](t *testing.T, b []byte, parse func([]byte) (*T, error)) {
	m, err := parse(b)
	if err != nil {
		if !errors.Is(err, attest.ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		return
	}
	again, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parse(again); err != nil {
		t.Fatalf("re-encoded message does not parse: %v", err)
	}
}

func FuzzParseEvidence(f *testing.F) {
	f.Add(syntheticEvidence())
	f.Add(syntheticEvidence()[:40])
	f.Add(syntheticBatchEvidence())
	f.Add([]byte(`{"version":"wardgate/attest/v1","pcrs":[{"index":99,"digest":""}]}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, b []byte) { checkParse(t, b, attest.ParseEvidence) })
}

func FuzzParseIdentity(f *testing.F) {
	id, _ := json.Marshal(attest.Identity{Version: attest.ProtocolVersion, EKCert: []byte{0x30, 0x82}, AK: attest.AKParams{Public: []byte{1}, CreateAttestation: []byte{2}, CreateSignature: []byte{3}}})
	f.Add(id)
	f.Add([]byte(`{"version":"wardgate/attest/v1","ek_cert":"!!"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkParse(t, b, attest.ParseIdentity) })
}

func FuzzParseChallenge(f *testing.F) {
	c, _ := json.Marshal(attest.Challenge{Version: attest.ProtocolVersion, Credential: []byte{1, 2}, Secret: []byte{3}})
	f.Add(c)
	f.Add([]byte(`{"version":"v0"}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkParse(t, b, attest.ParseChallenge) })
}

func FuzzParseChallengeResponse(f *testing.F) {
	c, _ := json.Marshal(attest.ChallengeResponse{Version: attest.ProtocolVersion, Secret: []byte("0123456789abcdef0123456789abcdef")})
	f.Add(c)
	f.Add([]byte(`{"version":"wardgate/attest/v1","secret":""}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkParse(t, b, attest.ParseChallengeResponse) })
}

func FuzzVerifyReport(f *testing.F) {
	f.Add([]byte(`{"report":{"id":"x"},"signature":"AAAA","key":""}`))
	f.Add([]byte(`{"report":"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := attest.VerifyReport(b, vendorPub); err == nil {
			t.Fatal("a fuzzed report verified")
		}
	})
}

// FuzzAppraise feeds mutated real evidence (from the simulator) to a real
// verifier, re-issuing the nonce each time so mutations reach the PCR,
// event-log and manifest checks. Appraisal must never error or panic on
// input, and only the unmodified evidence may pass.
func FuzzAppraise(f *testing.F) {
	ca := mustCA(f)
	b := openBox(f, dir(f, "b"), ca, goodComponents(), attest.AttesterConfig{})
	v := newVerifier(f, ca, map[string]string{peer: b.att.EKFingerprint()}, nil,
		signedManifest(f, manifestFor("1", goodComponents()...)))
	enroll(f, v, b, peer)
	wg, rk := keys()
	ev := evidence(f, v, b, peer, wg, rk)
	good, _ := ev.Marshal()
	b.close()
	f.Add(good)
	ev.EventLog = firmware.NewEventLogWriter().Bytes()
	noLog, _ := ev.Marshal()
	f.Add(noLog)
	f.Fuzz(func(t *testing.T, data []byte) {
		v.ReissueNonce(peer, ev.Nonce)
		vd, r, err := v.AppraiseBytes(testCtx, peer, ev.Nonce, data, wg, rk)
		if err != nil {
			t.Fatalf("appraisal error on input: %v", err)
		}
		if vd.Passed() != r.Pass {
			t.Fatal("verdict and report disagree")
		}
		if vd.Passed() {
			got, perr := attest.ParseEvidence(data)
			if perr != nil || !bytes.Equal(got.Quote, ev.Quote) || !bytes.Equal(got.Signature, ev.Signature) {
				t.Fatalf("mutated evidence passed")
			}
		}
	})
}
