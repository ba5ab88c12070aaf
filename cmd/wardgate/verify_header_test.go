package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// countersignedReceipt is what hospital-a's box hands its hospital for a
// record hospital-b received: a's ledger receipt of the sent entry and b's
// countersignature over its own received entry, both from real ledgers.
func countersignedReceipt(t *testing.T) (raw []byte, senderKey, receiverKey ed25519.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	la, pubA := openLedger(t, nil, filepath.Join(dir, "a"))
	rec := []byte("MSH|^~\\&|EHR|A|cs-1")
	sent := appendRecords(t, la, [][]byte{rec})[0]
	lr, err := la.Receipt(context.Background(), sent.Seq)
	if err != nil {
		t.Fatal(err)
	}

	_, priv, _ := ed25519.GenerateKey(nil)
	sb, err := proof.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := ledger.Open(context.Background(), ledger.Config{Box: "hospital-b", StateDir: filepath.Join(dir, "b"), Signer: sb, CheckpointInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	got, err := lb.Append(context.Background(), proof.Entry{Kind: proof.KindReceived, Digest: proof.Digest(rec), Sender: "hospital-a", Receiver: "hospital-b", ContentType: "application/hl7-v2"})
	if err != nil {
		t.Fatal(err)
	}
	lrb, err := lb.Receipt(context.Background(), got.Seq)
	if err != nil {
		t.Fatal(err)
	}
	recv, err := lrb.ParsedEntry()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := receipt.Sign(sb, lr.Entry, recv)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := receipt.New(lr, cs)
	if err != nil {
		t.Fatal(err)
	}
	return rc.AppendJSON(nil), pubA, sb.Public()
}

// edit rewrites one top-level field of a receipt's JSON, as an attacker
// with a text editor would; a nil value removes it.
func edit(t *testing.T, raw []byte, field string, value any) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(m, field)
	} else {
		b, err := json.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		m[field] = b
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifyEditedHeader: every top-level field of the receipt a box hands
// its hospital is checked against the signed entry or countersignature; an
// edited one is refused as header_mismatch, naming the field, and the
// untouched receipt verifies.
func TestVerifyEditedHeader(t *testing.T) {
	raw, pubA, pubB := countersignedReceipt(t)
	noDaemon := filepath.Join(t.TempDir(), "no-daemon.sock")
	keys := []string{"--record-key", hex.EncodeToString(pubA), "--receiver-key", hex.EncodeToString(pubB)}
	good := writeFile(t, t.TempDir(), "good.json", raw)
	r := wardgate(t, noDaemon, append([]string{"verify", "--receipt", good}, keys...)...)
	if r.code != 0 {
		t.Fatalf("untouched countersigned receipt refused: %+v", r)
	}
	mustContain(t, "stdout", r.stdout, "countersigned:", "verified")

	otherDigest := strings.Repeat("ab", 32)
	for _, c := range []struct {
		field string
		value any
		says  string
	}{
		{"digest", otherDigest, `field "digest"`},
		{"digest", nil, `field "digest" is missing`},
		{"sender", "hospital-c", `field "sender" is "hospital-c"`},
		{"receiver", "hospital-c", `field "receiver" is "hospital-c"`},
		{"kind", "received", `field "kind" is "received"`},
		{"status", proof.StatusAnchored, `field "status" is "anchored"`},
		{"content_type", "application/fhir+json", `field "content_type"`},
		{"delivery", receipt.DeliveryNotReceived, `field "delivery" is "not_received" but the receipt carries a countersignature`},
		{"delivery", "delivered", `field "delivery" is "delivered"`},
		{"delivery_error", "the receiver is down", `field "delivery_error" is set`},
		{"countersign", nil, `field "delivery" is "countersigned" but the receipt has no countersignature`},
	} {
		t.Run(c.field+"/"+c.says, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "r.json", edit(t, raw, c.field, c.value))
			r := wardgate(t, noDaemon, append([]string{"verify", "--json", "--receipt", p}, keys...)...)
			var vo verifyOutput
			if err := json.Unmarshal([]byte(r.stdout), &vo); err != nil || vo.OK || r.code != 1 {
				t.Fatalf("edited %s verified: %+v %v code %d", c.field, vo, err, r.code)
			}
			if vo.Reason != "header_mismatch" || !strings.Contains(vo.Error, c.says) {
				t.Fatalf("edited %s: reason %q error %q, want header_mismatch saying %q", c.field, vo.Reason, vo.Error, c.says)
			}
		})
	}
}

// TestVerifyBadCountersignature: a countersignature that does not verify
// is refused as bad_countersignature, even where the cause inside it is a
// bad Ed25519 signature, which must not read as the sender's bad_signature.
func TestVerifyBadCountersignature(t *testing.T) {
	raw, pubA, pubB := countersignedReceipt(t)
	noDaemon := filepath.Join(t.TempDir(), "no-daemon.sock")
	var m struct {
		Countersign receipt.Countersign `json:"countersign"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	flipSig := m.Countersign
	flipSig.Signature = append([]byte(nil), flipSig.Signature...)
	flipSig.Signature[3] ^= 1
	flipEntry := m.Countersign
	flipEntry.ReceivedEntry = append([]byte(nil), flipEntry.ReceivedEntry...)
	flipEntry.ReceivedEntry[len(flipEntry.ReceivedEntry)-1] ^= 1 // inside b's entry signature
	otherKey, _, _ := ed25519.GenerateKey(nil)
	for _, c := range []struct {
		name     string
		cs       receipt.Countersign
		receiver ed25519.PublicKey
	}{
		{"flipped signature", flipSig, pubB},
		{"flipped received entry", flipEntry, pubB},
		{"other receiver key", m.Countersign, otherKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "r.json", edit(t, raw, "countersign", c.cs))
			r := wardgate(t, noDaemon, "verify", "--json", "--receipt", p, "--record-key", hex.EncodeToString(pubA), "--receiver-key", hex.EncodeToString(c.receiver))
			var vo verifyOutput
			if err := json.Unmarshal([]byte(r.stdout), &vo); err != nil || vo.OK || r.code != 1 || vo.Reason != "bad_countersignature" {
				t.Fatalf("got %+v %v code %d, want refused as bad_countersignature", vo, err, r.code)
			}
		})
	}
}
