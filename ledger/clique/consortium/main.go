// Command consortium is `make chain-consortium`: it starts three Clique
// signers (geth v1.13.15) on loopback, deploys the anchor contract, writes
// the consortium admin's keystore and prints the chain lines of a box
// config for chain.mode: rpc. It runs until interrupted. Dev tooling only.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/google/uuid"

	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/clique"
)

func main() {
	bin := flag.String("bin", "", "geth v1.13.15 binary (default: built into the cache)")
	dir := flag.String("dir", "consortium-chain", "directory for the nodes' data and the admin keystore")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "chain-consortium:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, dir string) error {
	var err error
	if bin == "" {
		if bin, err = clique.Binary(ctx); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	n, err := clique.Start(ctx, clique.Options{Bin: bin, Dir: abs})
	if err != nil {
		return err
	}
	defer n.Close()
	cl, err := ethclient.DialContext(ctx, n.Nodes[0].URL())
	if err != nil {
		return err
	}
	defer cl.Close()
	setup, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	contract, err := ledger.SetupDev(setup, cl)
	if err != nil {
		return err
	}
	ks, pass, err := writeAdmin(abs)
	if err != nil {
		return err
	}
	urls := n.URLs()
	fmt.Printf(`3 Clique signers up (chain id %d), anchor contract %s.
Config lines for each box (chain.mode: rpc):

chain:
  mode: rpc
  rpc:
    url: %s
    endpoints: [%s]
    chain_id: %d
    contract: "%s"
    min_depth: 2
    keystore: /path/to/the/box/gateway-keystore.json
    passphrase_file: /path/to/its/passphrase

Register each box's gateway (the admin keystore is the dev admin; fund the
gateway account with a transfer from it on this dev network):

  wardgate chain register --rpc %s --contract %s \
    --admin-keystore %s --passphrase-file %s \
    --gateway 0xGATEWAY --box BOX --record-key RECORD_KEY

Ctrl-C stops the signers; the data stays in %s.
`, clique.ChainID, contract.Hex(), urls[0], strings.Join(urls, ", "), clique.ChainID, contract.Hex(),
		urls[0], contract.Hex(), ks, pass, abs)
	<-ctx.Done()
	return nil
}

// writeAdmin writes the dev admin key as a keystore with its passphrase file.
func writeAdmin(dir string) (ks, pass string, err error) {
	key := ledger.DevAdminKey()
	id, err := uuid.NewRandom()
	if err != nil {
		return "", "", err
	}
	js, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: crypto.PubkeyToAddress(key.PublicKey), PrivateKey: key}, "admin", keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		return "", "", err
	}
	ks, pass = filepath.Join(dir, "admin-keystore.json"), filepath.Join(dir, "admin.pass")
	if err := os.WriteFile(ks, js, 0o600); err != nil {
		return "", "", err
	}
	return ks, pass, os.WriteFile(pass, []byte("admin\n"), 0o600)
}
