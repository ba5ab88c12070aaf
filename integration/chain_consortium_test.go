package integration

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/google/uuid"

	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/clique"
)

// cliqueNet starts the 3-signer Clique network and deploys the anchor
// contract on it, as `make chain-consortium` does.
func cliqueNet(ctx context.Context, t *testing.T) *clique.Net {
	t.Helper()
	bin, err := clique.Binary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := clique.Start(ctx, clique.Options{Bin: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	cl, err := ethclient.DialContext(ctx, n.Nodes[0].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := ledger.SetupDev(ctx, cl); err != nil {
		t.Fatal(err)
	}
	return n
}

// useRPCChain points box at the consortium chain (chain.mode: rpc, every
// signer an endpoint) with a fresh gateway account in a keystore, as an
// operator would, and returns the gateway's address.
func useRPCChain(t *testing.T, b *cluster.Box, endpoints []string) ledger.DevGateway {
	t.Helper()
	key, _ := crypto.GenerateKey()
	id, _ := uuid.NewRandom()
	addr := crypto.PubkeyToAddress(key.PublicKey)
	js, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: addr, PrivateKey: key}, "pw", keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	ks, pass := filepath.Join(b.Dir, "gateway.json"), filepath.Join(b.Dir, "gateway.pass")
	if err := os.WriteFile(ks, js, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eps := make([]any, len(endpoints))
	for i, e := range endpoints {
		eps[i] = e
	}
	if err := b.SetConfig("chain", map[string]any{"mode": "rpc", "min_depth": 2, "checkpoint_interval": "1s", "rpc": map[string]any{
		"endpoints": eps, "chain_id": clique.ChainID, "contract": ledger.DevContractAddress().Hex(), "keystore": ks, "passphrase_file": pass,
	}}); err != nil {
		t.Fatal(err)
	}
	return ledger.DevGateway{Addr: addr, Box: b.Name}
}

// ledgerStatus is the chain half of `wardgate ledger status --json`.
type ledgerStatus struct {
	Size         uint64 `json:"size"`
	LastAnchored *struct {
		Size  uint64 `json:"size"`
		Block uint64 `json:"block"`
	} `json:"last_anchored"`
	Endpoints []struct {
		URL     string `json:"url"`
		Healthy bool   `json:"healthy"`
		Active  bool   `json:"active"`
		Error   string `json:"error"`
	} `json:"endpoints"`
}

// TestDaemonsOnCliqueSigners runs boxes A and B as wardgated processes in
// chain.mode rpc, with the three Clique signers as their endpoints. They
// exchange records, which anchor; signer 0 (the endpoint in use) is
// killed mid-run: the boxes fail over, records go on anchoring,
// `wardgate ledger status` shows that endpoint down, and `wardgate verify
// --rpc` on another signer passes on a receipt anchored after the loss.
func TestDaemonsOnCliqueSigners(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: starts three geth processes and two boxes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	n := cliqueNet(ctx, t)
	phase("3 signers up, contract deployed")
	c := newCluster(t, cluster.Userspace, []string{"a", "b"})
	phase("boxes prepared")
	A, B := c.Box("a"), c.Box("b")
	gws := map[*cluster.Box]ledger.DevGateway{A: useRPCChain(t, A, n.URLs()), B: useRPCChain(t, B, n.URLs())}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The consortium admin registers each box's gateway for its name and
	// record key (and funds it), once the box has its key.
	cl, err := ethclient.DialContext(ctx, n.Nodes[1].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	keys := map[*cluster.Box]string{}
	for box, gw := range gws {
		keys[box] = recordKey(ctx, t, box)
		k, _ := hex.DecodeString(keys[box])
		gw.RecordKey = ed25519.PublicKey(k)
		if _, err := ledger.SetupDev(ctx, cl, gw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := A.WaitPeer(ctx, "b", admitted); err != nil {
		t.Fatal(err)
	}
	if _, err := B.WaitPeer(ctx, "a", admitted); err != nil {
		t.Fatal(err)
	}
	phase("boxes up, registered and admitted")

	send := func(from, to *cluster.Box, i int) []byte {
		t.Helper()
		body := fhirBundle(1000 + i)
		if code, resp, err := from.PostRecord(ctx, to.Name, "application/fhir+json", body); err != nil || code != http.StatusOK {
			t.Fatalf("record %s->%s: %d %s %v", from.Name, to.Name, code, resp, err)
		}
		return body
	}
	ab, ba := send(A, B, 1), send(B, A, 2)
	anchoredReceipt(ctx, t, A, ab)
	anchoredReceipt(ctx, t, B, ba)
	phase("first records anchored")

	// Signer 0, every box's first endpoint, dies mid-run.
	var late [][]byte
	for i := range 3 {
		late = append(late, send(A, B, 10+i))
		if i == 0 {
			n.Nodes[0].Kill()
			phase("signer 0 killed")
		}
	}
	late = append(late, send(B, A, 20))
	var rcs []receiptView
	for _, body := range late[:3] {
		rcs = append(rcs, anchoredReceipt(ctx, t, A, body))
	}
	anchoredReceipt(ctx, t, B, late[3])
	phase("records sent around the loss anchored")

	for _, box := range []*cluster.Box{A, B} {
		var st ledgerStatus
		if err := box.CLIJSON(ctx, &st, "ledger", "status"); err != nil {
			t.Fatal(err)
		}
		down := n.Nodes[0].URL()
		for _, e := range st.Endpoints {
			if e.URL == down && (e.Healthy || e.Active || e.Error == "") {
				t.Errorf("%s's ledger status shows the killed signer %s as %+v, want down with an error", box.Name, down, e)
			}
			if e.URL != down && !e.Healthy {
				t.Errorf("%s's ledger status shows live signer %s as %+v", box.Name, e.URL, e)
			}
		}
		if len(st.Endpoints) != 3 {
			t.Errorf("%s's ledger status lists %d endpoints, want the 3 signers: %+v", box.Name, len(st.Endpoints), st.Endpoints)
		}
		out, err := box.CLI(ctx, "ledger", "status")
		if err != nil || !strings.Contains(string(out), down) {
			t.Errorf("%s's ledger status (text) does not name the down endpoint %s: %v\n%s", box.Name, down, err, out)
		}
	}

	// Verified on chain through a live signer, pinned to the chain,
	// contract and A's record key.
	dir := t.TempDir()
	last := rcs[len(rcs)-1]
	rf, df := filepath.Join(dir, "receipt.json"), filepath.Join(dir, "record")
	os.WriteFile(rf, last.raw, 0o644)
	os.WriteFile(df, late[2], 0o600)
	args := []string{"verify", "--receipt", rf, "--record", df, "--rpc", n.Nodes[2].URL(), "--chain-id", strconv.Itoa(clique.ChainID),
		"--contract", ledger.DevContractAddress().Hex(), "--record-key", keys[A], "--receiver-key", keys[B], "--min-depth", "2"}
	out, err := A.CLI(ctx, args...)
	if err != nil || !strings.Contains(string(out), "OK (online)") {
		t.Fatalf("wardgate verify --rpc on a signer: %v\n%s", err, out)
	}
	phase("verified online")
	// Each group commit's fdatasync is timed for the operator's dashboard.
	var syncs uint64
	if mf := scrape(ctx, t, A)["wardgate_journal_sync_seconds"]; mf != nil {
		for _, m := range mf.GetMetric() {
			syncs += m.GetHistogram().GetSampleCount()
		}
	}
	if syncs < 4 {
		t.Errorf("a's wardgate_journal_sync_seconds has %d observations after 4 records were journaled", syncs)
	}
}
