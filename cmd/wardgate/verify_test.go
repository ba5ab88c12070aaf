package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/devchain"
	"github.com/wardgate/wardgate/ledger/proof"
)

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openLedger opens a real journal-only ledger (receipts stay pending).
func openLedger(t *testing.T, chain *ledger.Chain, dir string) (*ledger.Ledger, ed25519.PublicKey) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	return openLedgerKey(t, chain, dir, priv)
}

// openLedgerKey opens box hospital-a's ledger with record key priv.
func openLedgerKey(t *testing.T, chain *ledger.Chain, dir string, priv ed25519.PrivateKey) (*ledger.Ledger, ed25519.PublicKey) {
	t.Helper()
	s, err := proof.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), ledger.Config{Box: "hospital-a", StateDir: dir, Signer: s, Chain: chain, CheckpointInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, s.Public()
}

// appendRecords appends records and returns the receipt of the one at idx.
func appendRecords(t *testing.T, l *ledger.Ledger, records [][]byte) []ledger.Appended {
	t.Helper()
	var out []ledger.Appended
	for _, rec := range records {
		a, err := l.Append(context.Background(), proof.Entry{Kind: proof.KindSent, Digest: proof.Digest(rec), Sender: "hospital-a", Receiver: "hospital-b", ContentType: "application/hl7-v2"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestVerifyOffline(t *testing.T) {
	dir := t.TempDir()
	l, pub := openLedger(t, nil, filepath.Join(dir, "state"))
	records := [][]byte{[]byte("MSH|^~\\&|EHR|A|1"), []byte("MSH|^~\\&|EHR|A|2"), []byte("MSH|^~\\&|EHR|A|3"), []byte("MSH|^~\\&|EHR|A|4"), []byte("MSH|^~\\&|EHR|A|5")}
	apps := appendRecords(t, l, records)
	rc, err := l.Receipt(context.Background(), apps[2].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Status != proof.StatusPending || len(rc.InclusionProof) == 0 {
		t.Fatalf("want a pending receipt with a proof, got %s with %d hashes", rc.Status, len(rc.InclusionProof))
	}
	raw, _ := rc.Marshal()
	good := writeFile(t, dir, "receipt.json", raw)
	rec := writeFile(t, dir, "record.hl7", records[2])
	other := writeFile(t, dir, "other.hl7", records[3])
	noDaemon := filepath.Join(dir, "no-daemon.sock") // verify never needs it

	r := wardgate(t, noDaemon, "verify", "--receipt", good, "--record", rec, "--record-key", hex.EncodeToString(pub))
	if r.code != 0 {
		t.Fatalf("good receipt refused: %+v", r)
	}
	mustContain(t, "verify", r.stdout, "receipt:", "OK (offline)", "hospital-a, leaf 2 of 5", "sent hospital-a -> hospital-b", "matches the digest", "pending")
	if strings.Contains(r.stdout, "warning") {
		t.Errorf("pinned key still warns:\n%s", r.stdout)
	}

	// "-" reads the receipt from stdin.
	var out, errb bytes.Buffer
	root := newRoot(func(string) string { return "" })
	root.SetArgs([]string{"verify", "--receipt", "-"})
	root.SetIn(bytes.NewReader(raw))
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.ExecuteContext(context.Background()); err != nil || !strings.Contains(out.String(), "OK (offline)") {
		t.Fatalf("verify from stdin: %v\n%s", err, out.String())
	}
	root = newRoot(func(string) string { return "" })
	root.SetArgs([]string{"verify", "--receipt", "-"})
	root.SetIn(bytes.NewReader(raw[:40]))
	root.SetOut(&out)
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "malformed receipt") {
		t.Fatalf("truncated stdin: %v", err)
	}

	// Without a pinned key it still verifies, and says whose key it used.
	r = wardgate(t, noDaemon, "verify", "--receipt", good, "--json")
	var vo verifyOutput
	if err := json.Unmarshal([]byte(r.stdout), &vo); err != nil || r.code != 0 || !vo.OK || !vo.KeyFromReceipt || vo.LeafIndex != 2 || vo.RecordChecked {
		t.Fatalf("verify --json: %+v %v %+v", vo, err, r)
	}
	mustContain(t, "warnings", strings.Join(vo.Warnings, "\n"), "--record-key")

	// Each kind of tampering is refused with its name and exit 1.
	flipProof := *rc
	flipProof.InclusionProof = append([]proof.Hash(nil), rc.InclusionProof...)
	flipProof.InclusionProof[0][7] ^= 0x01
	flipEntry := *rc
	flipEntry.Entry = append([]byte(nil), rc.Entry...)
	flipEntry.Entry[len(flipEntry.Entry)-1] ^= 0x01 // inside the signature
	otherKey, _, _ := ed25519.GenerateKey(nil)
	cases := []struct {
		name    string
		receipt *proof.Receipt
		file    []byte
		extra   []string
		reason  string
		message string
	}{
		{"flipped proof byte", &flipProof, nil, nil, "bad_proof", "proof does not match the checkpoint root"},
		{"flipped entry byte", &flipEntry, nil, nil, "bad_signature", "bad signature"},
		{"wrong record", rc, nil, []string{"--record", other}, "digest_mismatch", "record does not match the entry digest"},
		{"other box's key", rc, nil, []string{"--record-key", hex.EncodeToString(otherKey)}, "wrong_key", "unexpected record key"},
		{"truncated file", nil, raw[:len(raw)/2], nil, "malformed_receipt", "malformed receipt"},
		{"pending receipt online", rc, nil, []string{"--rpc", "http://127.0.0.1:1"}, "pending", "not anchored yet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.file
			if c.receipt != nil {
				b, _ = c.receipt.Marshal()
			}
			p := writeFile(t, t.TempDir(), "r.json", b)
			r := wardgate(t, noDaemon, append([]string{"verify", "--receipt", p}, c.extra...)...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stdout %s", r.code, r.stdout)
			}
			mustContain(t, "stderr", r.stderr, "wardgate: receipt "+p+" REFUSED ("+c.reason+")", c.message)
			mustContain(t, "stdout", r.stdout, "REFUSED: "+c.reason)
			r = wardgate(t, noDaemon, append([]string{"verify", "--json", "--receipt", p}, c.extra...)...)
			var vo verifyOutput
			if err := json.Unmarshal([]byte(r.stdout), &vo); err != nil || vo.OK || vo.Reason != c.reason || r.code != 1 {
				t.Fatalf("--json: %+v %v code %d", vo, err, r.code)
			}
		})
	}

	for _, args := range [][]string{{"verify"}, {"verify", "--receipt", filepath.Join(dir, "missing.json")}, {"verify", "--receipt", good, "--record-key", "zz"}} {
		if r := wardgate(t, noDaemon, args...); r.code == 0 || r.stderr == "" {
			t.Errorf("%v: code %d stderr %q", args, r.code, r.stderr)
		}
	}
}

func FuzzParseEd25519Key(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add("q2/JxYhMfNcvEDTmcHf7RYmkGf8tn08QzBzlnLOSbXo=")
	f.Fuzz(func(t *testing.T, s string) {
		if k, ok := firmware.ParseRawPublicKey(s); ok && len(k) != ed25519.PublicKeySize {
			t.Fatalf("accepted %d-byte key", len(k))
		}
	})
}

// TestVerifyOnline anchors a real checkpoint on the embedded go-ethereum dev
// chain (in-process, JSON-RPC on loopback) and verifies the receipt on
// chain through --rpc.
func TestVerifyOnline(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: starts a dev chain")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	port := testutil.FreePort(t)
	pubKey, priv, _ := ed25519.GenerateKey(nil)
	chain, err := devchain.Start(ctx, devchain.Config{StateDir: filepath.Join(dir, "state"), Port: port, Passphrase: "pw", Logger: slog.New(slog.DiscardHandler),
		Box: "hospital-a", RecordKey: pubKey})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	l, pub := openLedgerKey(t, chain, filepath.Join(dir, "state"), priv)
	records := [][]byte{[]byte("record one"), []byte("record two"), []byte("record three")}
	apps := appendRecords(t, l, records)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForWithin(t, time.Minute, "the checkpoint of 3 entries to be anchored", func() bool {
		s := l.Status(ctx)
		return s.LastAnchor != nil && s.LastAnchor.Size >= 3
	})
	rc, err := l.Receipt(ctx, apps[1].Seq)
	if err != nil || rc.Status != proof.StatusAnchored {
		t.Fatalf("receipt %v, %v; want anchored", rc, err)
	}
	raw, _ := rc.Marshal()
	p := writeFile(t, dir, "receipt.json", raw)
	rec := writeFile(t, dir, "record", records[1])
	rpc := "http://127.0.0.1:" + strconv.Itoa(port)
	pinned := []string{"verify", "--receipt", p, "--record", rec, "--rpc", rpc, "--record-key", hex.EncodeToString(pub),
		"--chain-id", strconv.FormatUint(ledger.DevChainID, 10), "--contract", chain.Contract().Hex(), "--gateway", chain.Gateway().Hex()}
	noDaemon := filepath.Join(dir, "none.sock")

	r := wardgate(t, noDaemon, pinned...)
	if r.code != 0 {
		t.Fatalf("anchored receipt refused online: %+v", r)
	}
	mustContain(t, "online", r.stdout, "OK (online)", "anchor:", fmt.Sprintf("chain %d, contract %s", ledger.DevChainID, chain.Contract().Hex()), "by gateway "+chain.Gateway().Hex())
	if strings.Contains(r.stdout, "warning") {
		t.Errorf("fully pinned verify warns:\n%s", r.stdout)
	}
	// The offline check of the same anchored receipt passes without --rpc.
	if r := wardgate(t, noDaemon, "verify", "--receipt", p); r.code != 0 || !strings.Contains(r.stdout, "not checked on chain") {
		t.Fatalf("offline anchored: %+v", r)
	}

	for _, c := range []struct {
		name   string
		flag   string
		value  string
		reason string
	}{
		{"other contract", "--contract", "0x000000000000000000000000000000000000dEaD", "wrong_chain"},
		{"other chain id", "--chain-id", "1", "wrong_chain"},
		{"other gateway", "--gateway", "0x000000000000000000000000000000000000bEEF", "unregistered_gateway"},
		{"too shallow", "--min-depth", "1000000", "not_deep_enough"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string(nil), pinned...), c.flag, c.value) // last flag wins
			r := wardgate(t, noDaemon, args...)
			if r.code != 1 || !strings.Contains(r.stderr, "REFUSED ("+c.reason+")") {
				t.Fatalf("code %d stderr %q, want refusal %s", r.code, r.stderr, c.reason)
			}
		})
	}
	// An unreachable chain is a failure, not a pass.
	args := append(append([]string(nil), pinned...), "--rpc", "http://127.0.0.1:1", "--timeout", "5s")
	if r := wardgate(t, noDaemon, args...); r.code != 1 || !strings.Contains(r.stderr, "REFUSED") {
		t.Fatalf("chain down: %+v", r)
	}
}
