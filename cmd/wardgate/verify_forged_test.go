package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// TestVerifyForgedCountersignature: `wardgate verify --receiver-key`
// refuses a receipt whose countersignature was made, consistently, by a
// key other than the receiver's attested one, and one whose
// countersignature, by the receiver's real key, acknowledges its received
// entry of another record. The honest receipt verifies. Real ledgers on
// both sides.
func TestVerifyForgedCountersignature(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	la, pubA := openLedger(t, nil, filepath.Join(dir, "a"))
	recs := [][]byte{[]byte("MSH|^~\\&|EHR|A|forged-1"), []byte("MSH|^~\\&|EHR|A|forged-2")}
	sent := appendRecords(t, la, recs)
	lr, err := la.Receipt(ctx, sent[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	sb, lb := receiverLedger(t, filepath.Join(dir, "b"))
	var recv []*proof.Entry
	for _, rec := range recs {
		got, err := lb.Append(ctx, proof.Entry{Kind: proof.KindReceived, Digest: proof.Digest(rec), Sender: "hospital-a", Receiver: "hospital-b", ContentType: "application/hl7-v2"})
		if err != nil {
			t.Fatal(err)
		}
		e := got.Entry
		recv = append(recv, &e)
	}
	_, attackerPriv, _ := ed25519.GenerateKey(nil)
	attacker, err := proof.NewKeySigner(attackerPriv)
	if err != nil {
		t.Fatal(err)
	}
	forgedRecv := *recv[0]
	forgedRecv.Batch, forgedRecv.Signature = proof.BatchProof{}, nil
	forgedRecv.Signature = ed25519.Sign(attackerPriv, forgedRecv.SignedBytes())

	noDaemon := filepath.Join(t.TempDir(), "no-daemon.sock")
	for _, c := range []struct {
		name   string
		signer proof.Signer
		recv   *proof.Entry
		want   string // "" verifies
	}{
		{"honest", sb, recv[0], ""},
		{"signed by another key", attacker, &forgedRecv, "bad_countersignature"},
		{"acknowledges another record", sb, recv[1], "bad_countersignature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, err := receipt.Sign(c.signer, lr.Entry, c.recv)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := receipt.New(lr, cs)
			if err != nil {
				t.Fatal(err)
			}
			p := writeFile(t, t.TempDir(), "r.json", rc.AppendJSON(nil))
			r := wardgate(t, noDaemon, "verify", "--json", "--receipt", p, "--record-key", hex.EncodeToString(pubA), "--receiver-key", hex.EncodeToString(sb.Public()))
			var vo verifyOutput
			if err := json.Unmarshal([]byte(r.stdout), &vo); err != nil {
				t.Fatalf("verify --json: %v: %s", err, r.stdout)
			}
			if c.want == "" {
				if !vo.OK || r.code != 0 {
					t.Fatalf("honest receipt refused: %+v code %d", vo, r.code)
				}
				return
			}
			if vo.OK || r.code != 1 || vo.Reason != c.want {
				t.Fatalf("forged countersignature: %+v code %d, want refused as %s", vo, r.code, c.want)
			}
		})
	}
}

// receiverLedger is hospital-b's real journal-only ledger and record key.
func receiverLedger(t *testing.T, dir string) (*proof.KeySigner, *ledger.Ledger) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	s, err := proof.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), ledger.Config{Box: "hospital-b", StateDir: dir, Signer: s, CheckpointInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return s, l
}
