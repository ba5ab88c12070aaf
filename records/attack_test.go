package records

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// Attacks on the record exchange by a box that holds a passing verdict: a
// compromised sender, or a compromised receiver. Each is what the other
// box (and the hospital holding the receipt) sees.

// sentEntry journals a KindSent entry for body in a's real ledger, signed
// with a's attested record key, as a's relay would, and returns its bytes.
func sentEntryFor(t *testing.T, a *recBox, to string, body []byte) []byte {
	t.Helper()
	got, err := a.l.Append(context.Background(), proof.Entry{Kind: proof.KindSent, Digest: sha256.Sum256(body),
		Sender: a.name, Receiver: to, ContentType: "application/fhir+json"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := got.Entry.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// postBatch sends one peer batch straight to a box's peer listener, as a
// sender box does through the tunnel, and returns the per-record results.
func postBatch(t *testing.T, addr string, raws, bodies [][]byte) []outResult {
	t.Helper()
	resp, err := http.Post("http://"+addr+batchPath, batchType, bytes.NewReader(encodeBatch(raws, bodies)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("batch: %d %s", resp.StatusCode, b)
	}
	res, err := parseResults(b, len(raws))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A compromised sender signs the digest of one record and sends another
// body under it. The receiver refuses it: nothing is delivered to its
// hospital, journaled or countersigned. The same signed entry with the
// body it names goes through.
func TestSenderSignsOneDigestSendsAnotherBody(t *testing.T) {
	p := newRecPair(t)
	signed := fhirBundle(randMarker(t))
	smuggled := fhirBundle(randMarker(t))
	raw := sentEntryFor(t, p.a, p.b.name, signed)
	addr := p.n.addrs[p.b.name]

	res := postBatch(t, addr, [][]byte{raw}, [][]byte{smuggled})
	if res[0].cs != nil || !errors.Is(res[0].err, ErrPeerRefused) || !bytes.Contains([]byte(res[0].err.Error()), []byte("does not hash to the signed digest")) {
		t.Fatalf("smuggled body: countersign %v, err %v; want a refusal naming the digest", res[0].cs != nil, res[0].err)
	}
	if n := p.ep.count(); n != 0 {
		t.Fatalf("receiver delivered %d records to its hospital", n)
	}
	for _, d := range [][32]byte{sha256.Sum256(signed), sha256.Sum256(smuggled)} {
		if n := len(p.b.l.Lookup(d)); n != 0 {
			t.Fatalf("receiver journaled %d entries for %x", n, d[:6])
		}
	}

	res = postBatch(t, addr, [][]byte{raw}, [][]byte{signed})
	if res[0].err != nil || res[0].cs == nil {
		t.Fatalf("the signed body itself: %v", res[0].err)
	}
	if p.ep.count() != 1 || !bytes.Equal(p.ep.got[0], signed) {
		t.Fatalf("delivered %q, want the signed body", p.ep.got)
	}
}

// tamperPeer stands between a sender and a real receiver's peer handler
// (a compromised receiver): it passes each batch on and rewrites the
// countersignatures of the reply with forge.
type tamperPeer struct {
	inner http.Handler
	forge func(t *testing.T, sentRaw []byte, cs *receipt.Countersign) *receipt.Countersign
	t     *testing.T
}

func (p *tamperPeer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	p.inner.ServeHTTP(rec, req)
	reply := rec.Body.Bytes()
	if req.URL.Path == batchPath && rec.Code == http.StatusOK && p.forge != nil {
		reply = p.rewrite(body, reply)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	w.Write(reply)
}

func (p *tamperPeer) rewrite(batch, reply []byte) []byte {
	items, err := parseBatch(batch, 1<<30)
	if err != nil {
		p.t.Errorf("tamperPeer: %v", err)
		return reply
	}
	res, err := parseResults(reply, len(items))
	if err != nil {
		p.t.Errorf("tamperPeer: %v", err)
		return reply
	}
	out := binary.BigEndian.AppendUint32([]byte(resultMagic), uint32(len(res)))
	for i, r := range res {
		if r.cs == nil {
			p.t.Errorf("tamperPeer: record %d refused by the real receiver: %v", i, r.err)
			return reply
		}
		out = append(out, resultOK)
		out = p.forge(p.t, items[i].raw, r.cs).AppendBinary(out)
	}
	return out
}

// signer is a fresh Ed25519 record key, not attested by anyone.
func newSigner(t *testing.T) (*proof.KeySigner, ed25519.PrivateKey) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	s, err := proof.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// A compromised receiver returns countersignatures that prove nothing:
// with a flipped signature byte, made by a key other than its attested
// record key, or acknowledging its received entry of another record. The
// sending box refuses each (the hospital gets no countersigned receipt),
// and so does the offline check `wardgate verify --receiver-key` runs
// (receipt.VerifyReceipt → Countersign.Verify) on a receipt carrying it.
func TestForgedCountersignatureRefused(t *testing.T) {
	p := newRecPair(t)
	ctx := context.Background()
	// An honest record first: its receipt, and the receiver's journaled
	// entry for it, which the "another record" forgery replays.
	first := fhirBundle(randMarker(t))
	st, out := post(t, p.a, p.b.name, "application/fhir+json", first)
	if st != http.StatusOK {
		t.Fatalf("honest record: %d %s", st, out)
	}
	honest := parseReceipt(t, out)
	second := fhirBundle(randMarker(t))
	if st, out := post(t, p.a, p.b.name, "application/fhir+json", second); st != http.StatusOK {
		t.Fatalf("honest record: %d %s", st, out)
	}
	// otherRecv is the receiver's journaled entry of a record other than
	// the one sentRaw names.
	otherRecv := func(t *testing.T, sentRaw []byte) *proof.Entry {
		var sent proof.Entry
		if err := sent.UnmarshalBinary(sentRaw); err != nil {
			t.Fatal(err)
		}
		other := first
		if sent.Digest == sha256.Sum256(first) {
			other = second
		}
		e, err := p.b.l.Entry(ctx, p.b.l.Lookup(sha256.Sum256(other))[0])
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	attacker, attackerPriv := newSigner(t)

	forgeries := []struct {
		name  string
		forge func(t *testing.T, sentRaw []byte, cs *receipt.Countersign) *receipt.Countersign
	}{
		{"flipped signature byte", func(t *testing.T, _ []byte, cs *receipt.Countersign) *receipt.Countersign {
			f := *cs
			f.Signature = append([]byte(nil), cs.Signature...)
			f.Signature[11] ^= 0x01
			return &f
		}},
		{"signed by another key", func(t *testing.T, sentRaw []byte, cs *receipt.Countersign) *receipt.Countersign {
			// The attacker signs the received entry and the
			// countersignature with its own key, consistently.
			var recv proof.Entry
			if err := recv.UnmarshalBinary(cs.ReceivedEntry); err != nil {
				t.Fatal(err)
			}
			recv.Batch = proof.BatchProof{}
			recv.Signature = ed25519.Sign(attackerPriv, recv.SignedBytes())
			f, err := receipt.Sign(attacker, sentRaw, &recv)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"acknowledges another record", func(t *testing.T, sentRaw []byte, _ *receipt.Countersign) *receipt.Countersign {
			// Signed by the receiver's real attested key, over this
			// sent entry, but its received entry is another record's.
			f, err := receipt.Sign(p.b.signer, sentRaw, otherRecv(t, sentRaw))
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
	}
	tp := &tamperPeer{inner: p.b.r.PeerHandler(), t: t}
	p.n.mu.Lock()
	p.n.addrs[p.b.name] = serveHTTP(t, tp)
	p.n.mu.Unlock()
	p.a.r.client.CloseIdleConnections() // the next batch dials the compromised receiver
	for _, f := range forgeries {
		t.Run(f.name, func(t *testing.T) {
			tp.forge = f.forge
			body := fhirBundle(randMarker(t))
			st, out := post(t, p.a, p.b.name, "application/fhir+json", body)
			wantRefusal(t, st, out, http.StatusBadGateway, codeBadCountersign, "bad countersignature")
			d := sha256.Sum256(body)
			// The receipt the hospital can fetch later carries only a
			// countersignature the box checked (here the real receiver's,
			// asked again: it did receive the record).
			if st, got := get(t, p.a.lanURL+"/v1/receipts/"+hex.EncodeToString(d[:])); st == http.StatusOK {
				if rc := parseReceipt(t, got); rc.Countersign != nil {
					if _, err := receipt.VerifyReceipt(ctx, rc, p.a.signer.Public(), p.b.signer.Public(), proof.VerifyOptions{Record: body}); err != nil {
						t.Fatalf("sender kept the forged countersignature: %v", err)
					}
				}
			}

			forged := *honest
			forged.Countersign = f.forge(t, honest.Ledger.Entry, honest.Countersign)
			_, err := receipt.VerifyReceipt(ctx, &forged, p.a.signer.Public(), p.b.signer.Public(), proof.VerifyOptions{})
			if !errors.Is(err, receipt.ErrBadCountersign) {
				t.Fatalf("verify accepted a receipt with the forged countersignature: %v", err)
			}
		})
	}
	// The honest receipt still verifies: the refusals are the forgeries'.
	if _, err := receipt.VerifyReceipt(ctx, honest, p.a.signer.Public(), p.b.signer.Public(), proof.VerifyOptions{Record: first}); err != nil {
		t.Fatalf("honest receipt: %v", err)
	}
}

// recountersignHTTP asks box's peer listener for a countersignature again,
// as a sender that lost it after a restart does.
func recountersignHTTP(t *testing.T, addr string, sentRaw []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+countersignPath, nil)
	req.Header.Set(entryHeader, b64(sentRaw))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A sender whose verdict failed (its image changed and re-appraisal
// refused it), expired or was revoked after it sent a record asks the
// receiver to countersign that record again: the receiver refuses, so a
// box no longer admitted collects no new proofs of delivery.
func TestRecountersignOnlyToAdmittedSender(t *testing.T) {
	p := newRecPair(t)
	body := fhirBundle(randMarker(t))
	if st, out := post(t, p.a, p.b.name, "application/fhir+json", body); st != http.StatusOK {
		t.Fatalf("send: %d %s", st, out)
	}
	e, err := p.a.l.Entry(context.Background(), p.a.l.Lookup(sha256.Sum256(body))[0])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.MarshalBinary()
	addr := p.n.addrs[p.b.name]

	// Admitted: the countersignature comes again, and verifies.
	st, out := recountersignHTTP(t, addr, raw)
	if st != http.StatusOK {
		t.Fatalf("admitted sender: %d %s", st, out)
	}
	cs, err := receipt.ParseCountersign(out)
	if err != nil || cs.Verify(p.b.signer.Public(), raw) != nil {
		t.Fatalf("re-issued countersignature: %v", err)
	}
	admitted := p.b.verdicts.Verdict(p.a.name)

	p.b.verdicts.set(p.a.name, p.f.Fail(t, p.a.name, [32]byte{2}, p.a.signer.Public()))
	st, out = recountersignHTTP(t, addr, raw)
	wantRefusal(t, st, out, http.StatusForbidden, codeNotAdmitted, "failed attestation")

	p.b.verdicts.set(p.a.name, admitted)
	p.b.clk.advance(2 * time.Hour)
	st, out = recountersignHTTP(t, addr, raw)
	wantRefusal(t, st, out, http.StatusConflict, codeExpired, "expired at")
	p.b.clk.advance(-2 * time.Hour)

	p.b.verdicts.set(p.a.name, nil)
	st, out = recountersignHTTP(t, addr, raw)
	wantRefusal(t, st, out, http.StatusForbidden, codeNotAdmitted, "no verdict")
}

// A sender forwards to this box a record it signed for another hospital
// (its own real entry, addressed to "other-clinic"). The receiver refuses
// it: a record reaches only the hospital its signed entry names.
func TestEntryForAnotherBoxRefused(t *testing.T) {
	p := newRecPair(t)
	body := fhirBundle(randMarker(t))
	raw := sentEntryFor(t, p.a, "other-clinic", body)
	res := postBatch(t, p.n.addrs[p.b.name], [][]byte{raw}, [][]byte{body})
	if res[0].cs != nil || !errors.Is(res[0].err, ErrPeerRefused) || !bytes.Contains([]byte(res[0].err.Error()), []byte(`addressed to "other-clinic"`)) {
		t.Fatalf("record for another box: countersigned %v, err %v; want a refusal naming the addressee", res[0].cs != nil, res[0].err)
	}
	if n := p.ep.count(); n != 0 {
		t.Fatalf("receiver delivered %d records meant for another hospital", n)
	}
	if n := len(p.b.l.Lookup(sha256.Sum256(body))); n != 0 {
		t.Fatalf("receiver journaled %d entries", n)
	}
}

// An HL7 engine keeps sending over MLLP to a peer whose verdict has since
// failed (its image was changed) or expired: each message is refused with
// an AE naming why, before anything is journaled or forwarded. The MLLP
// intake has no early check of its own: this is the send path's check.
func TestHL7ToPeerNoLongerAdmittedRefused(t *testing.T) {
	f := fixture(t)
	n := &recNet{addrs: map[string]string{}}
	eng := &mllpEngine{}
	a := newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) { c.MLLPRoutes = map[string]string{"CITYGEN": "city-general"} })
	b := newRecBox(t, n, "city-general", Delivery{MLLPAddr: eng.serve(t)}, nil)
	admit(t, f, a, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.r.ServeMLLP(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	admitted := a.verdicts.Verdict(b.name)

	for _, tc := range []struct {
		name, id, says string
		set            func()
	}{
		{"failed re-appraisal", "REVOKED1", "failed attestation", func() {
			a.verdicts.set(b.name, f.Fail(t, b.name, [32]byte{1}, b.signer.Public()))
		}},
		{"expired verdict", "EXPIRED1", "expired", func() {
			a.verdicts.set(b.name, admitted)
			a.clk.advance(2 * time.Hour)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.set()
			msg := strings.Replace(adtA01, "MSG00001", tc.id, 1)
			ack := mllpExchange(t, c, rd, frame(msg))
			if ack.Code != "AE" || ack.ControlID != tc.id || !strings.Contains(ack.Text, tc.says) {
				t.Fatalf("ACK %+v, want AE saying %q", ack, tc.says)
			}
			d := sha256.Sum256([]byte(msg))
			if n := len(a.l.Lookup(d)); n != 0 {
				t.Fatalf("sender journaled %d entries for a record to a peer no longer admitted", n)
			}
			if n := len(b.l.Lookup(d)); n != 0 {
				t.Fatalf("peer no longer admitted received the record (%d entries)", n)
			}
		})
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.got) != 0 {
		t.Fatalf("the peer's HL7 engine got %d messages", len(eng.got))
	}
}
