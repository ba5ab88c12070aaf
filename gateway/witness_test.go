package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	tlog "github.com/transparency-dev/formats/log"
	fproof "github.com/transparency-dev/formats/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// TestWitnessedReceipt: in a consortium of three boxes, a's checkpoints
// are cosigned by b and c over the tunnel, and the receipt a's hospital
// system fetches for a record carries both cosignatures: it verifies with
// two witnesses required, under the record keys b and c attest.
func TestWitnessedReceipt(t *testing.T) {
	c := newConsortium(t, []string{"a", "b", "c"})
	for _, b := range c.boxes {
		b.editConfig(t, func(cfg *config.Config) {
			cfg.Witness.Interval = "200ms"
			cfg.Chain.CheckpointInterval = "200ms"
		})
		b.start(t)
	}
	a := c.boxes["a"]
	for _, p := range []string{"b", "c"} {
		c.boxes[p].waitPeer(t, "a", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
		a.waitPeer(t, p, "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
	}
	rec := []byte(`{"resourceType":"Patient","id":"witness-1"}`)
	testutil.WaitFor(t, "record a->b accepted", func() bool {
		code, _, err := a.send("b", rec)
		return err == nil && code == http.StatusOK
	})
	var ws []note.Verifier
	for _, p := range []string{"b", "c"} {
		key, err := hex.DecodeString(c.boxes[p].recordKey(t))
		if err != nil {
			t.Fatal(err)
		}
		v, err := proof.CosignatureVerifier(p, key)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, v)
	}
	aKey, err := hex.DecodeString(a.recordKey(t))
	if err != nil {
		t.Fatal(err)
	}
	var last error
	testutil.WaitForWithin(t, 30*time.Second, "a receipt cosigned by b and c", func() bool {
		rc, err := fetchReceipt(a, sha256.Sum256(rec))
		if err == nil {
			_, err = receipt.VerifyReceipt(context.Background(), rc, aKey, nil, proof.VerifyOptions{Witnesses: ws, MinWitnesses: 2})
		}
		last = err
		return err == nil
	})
	if last != nil {
		t.Fatal(last)
	}

	// `wardgate ledger proof`: the same entry as a C2SP tlog-proof whose
	// checkpoint carries both cosignatures.
	raw, err := a.g.LedgerProof(context.Background(), sha256.Sum256(rec))
	if err != nil {
		t.Fatal(err)
	}
	var tp fproof.TLogProof
	if err := tp.Unmarshal(raw); err != nil {
		t.Fatalf("tlog-proof: %v\n%s", err, raw)
	}
	logV, err := proof.LogVerifier("a", aKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, n, err := tlog.ParseCheckpoint(tp.Checkpoint, proof.Origin("a"), logV, ws...); err != nil || len(n.Sigs) != 3 {
		t.Fatalf("tlog-proof checkpoint: %v, want the log's signature and 2 cosignatures:\n%s", err, tp.Checkpoint)
	}
}

// fetchReceipt is GET /v1/receipts/{digest} on b's LAN intake.
func fetchReceipt(b *box, digest [32]byte) (*receipt.Receipt, error) {
	resp, err := b.ehr.Get("https://" + b.lan + "/v1/receipts/" + hex.EncodeToString(digest[:]))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, receipt.MaxReceiptSize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET receipt: %s: %s", resp.Status, raw)
	}
	return receipt.ParseReceipt(raw)
}
