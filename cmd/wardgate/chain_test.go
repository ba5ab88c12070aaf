package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/google/uuid"

	"github.com/wardgate/wardgate/internal/testutil"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/chainadmin"
	"github.com/wardgate/wardgate/ledger/contracts"
	"github.com/wardgate/wardgate/ledger/devchain"
	"github.com/wardgate/wardgate/ledger/proof"
)

// TestChainAdminAndForgery reproduces the forgery of issue 16 end to end:
// the admin registers box c's gateway with `wardgate chain register`; with
// that account a log named "hospital-a", signed with a fresh key, is
// anchored (under c's own log hash, the only one the contract takes from
// it). `wardgate verify --rpc`, fully pinned, refuses it as
// gateway_not_bound with and without --record-key. Then `wardgate chain
// revoke` makes the real box's receipt unregistered_gateway.
func TestChainAdminAndForgery(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: starts a dev chain")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	port := testutil.FreePort(t)
	pubA, privA, _ := ed25519.GenerateKey(nil)
	chain, err := devchain.Start(ctx, devchain.Config{StateDir: filepath.Join(dir, "a"), Port: port, Passphrase: "pw", Logger: testutil.QuietLogger(), Box: "hospital-a", RecordKey: pubA})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	rpc := "http://127.0.0.1:" + strconv.Itoa(port)
	noDaemon := filepath.Join(dir, "none.sock")
	ks, pass := adminKeystore(t, dir)
	admin := []string{"--rpc", rpc, "--contract", chain.Contract().Hex(), "--admin-keystore", ks, "--passphrase-file", pass}

	// Box c: its own gateway account, registered by the admin.
	cKey, _ := crypto.GenerateKey()
	cGw := crypto.PubkeyToAddress(cKey.PublicKey)
	pubC, _, _ := ed25519.GenerateKey(nil)
	r := wardgate(t, noDaemon, append([]string{"chain", "register", "--gateway", cGw.Hex(), "--box", "c", "--record-key", hex.EncodeToString(pubC)}, admin...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "register: contract") {
		t.Fatalf("chain register: %+v", r)
	}
	if r := wardgate(t, noDaemon, append([]string{"chain", "register", "--gateway", cGw.Hex(), "--box", "c"}, admin...)...); r.code != 2 || !strings.Contains(r.stderr, "--record-key") {
		t.Fatalf("register without --record-key: %+v", r)
	}
	cl, err := ethclient.DialContext(ctx, rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fund, _ := chainadmin.NewSender(ctx, cl, ledger.DevAdminKey())
	if _, err := fund.Send(ctx, &cGw, new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil), nil); err != nil {
		t.Fatal(err)
	}

	// The forger's log named like box a, under a fresh key, anchored by c.
	forger, pubF := openLedger(t, nil, filepath.Join(dir, "forger"))
	appendRecords(t, forger, [][]byte{[]byte("forged one"), []byte("forged two")})
	if _, err := forger.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rc, err := forger.Receipt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := chainadmin.NewSender(ctx, cl, cKey)
	ca := chain.Contract()
	tx, err := cs.Send(ctx, &ca, nil, contracts.NewAnchor().PackAnchor(rc.Checkpoint.Size, rc.Checkpoint.Root, proof.LogHash("c")))
	if err != nil {
		t.Fatal(err)
	}
	rc.Status = proof.StatusAnchored
	rc.Anchor = &proof.Anchor{Size: rc.Checkpoint.Size, Root: rc.Checkpoint.Root, ChainID: ledger.DevChainID, Contract: ca, Gateway: cGw,
		TxHash: tx.TxHash, Block: tx.BlockNumber.Uint64(), BlockHash: tx.BlockHash}
	raw, _ := rc.Marshal()
	p := writeFile(t, dir, "forged.json", raw)
	pinned := []string{"verify", "--receipt", p, "--rpc", rpc, "--chain-id", strconv.FormatUint(ledger.DevChainID, 10), "--contract", ca.Hex()}
	for name, args := range map[string][]string{
		"key from receipt":   pinned,
		"forger's key given": append(append([]string(nil), pinned...), "--record-key", hex.EncodeToString(pubF)),
	} {
		if r := wardgate(t, noDaemon, args...); r.code != 1 || !strings.Contains(r.stderr, "REFUSED (gateway_not_bound)") {
			t.Errorf("%s: code %d stdout %q stderr %q, want gateway_not_bound", name, r.code, r.stdout, r.stderr)
		}
	}

	// The real box's receipt verifies, until the admin revokes its gateway.
	l, _ := openLedgerKey(t, chain, filepath.Join(dir, "a"), privA)
	appendRecords(t, l, [][]byte{[]byte("real")})
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForWithin(t, time.Minute, "the real checkpoint anchored", func() bool { s := l.Status(ctx); return s.LastAnchor != nil })
	realRc, err := l.Receipt(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = realRc.Marshal()
	realArgs := []string{"verify", "--receipt", writeFile(t, dir, "real.json", raw), "--rpc", rpc, "--chain-id", strconv.FormatUint(ledger.DevChainID, 10), "--contract", ca.Hex(), "--record-key", hex.EncodeToString(pubA)}
	if r := wardgate(t, noDaemon, realArgs...); r.code != 0 {
		t.Fatalf("real receipt: %+v", r)
	}
	if r := wardgate(t, noDaemon, append([]string{"chain", "revoke", "--gateway", chain.Gateway().Hex()}, admin...)...); r.code != 0 {
		t.Fatalf("chain revoke: %+v", r)
	}
	if r := wardgate(t, noDaemon, realArgs...); r.code != 1 || !strings.Contains(r.stderr, "REFUSED (unregistered_gateway)") {
		t.Fatalf("revoked gateway's receipt: %+v", r)
	}
}

// adminKeystore writes the dev admin key as a keystore file and its
// passphrase file.
func adminKeystore(t *testing.T, dir string) (ks, pass string) {
	t.Helper()
	key := ledger.DevAdminKey()
	id, _ := uuid.NewRandom()
	js, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: crypto.PubkeyToAddress(key.PublicKey), PrivateKey: key}, "pw", keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	ks = writeFile(t, dir, "admin.json", js)
	pass = writeFile(t, dir, "admin.pass", []byte("pw\n"))
	return ks, pass
}
