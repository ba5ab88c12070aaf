package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/ledger/chainadmin"
)

// chainFlags are the consortium admin's connection: the chain, the anchor
// contract and the admin account's keystore.
type chainFlags struct {
	rpc, contract, keystore, passphraseFile string
	gateway, box, recordKey                 string
}

// chainOutput is what `wardgate chain ... --json` prints.
type chainOutput struct {
	Action   string `json:"action"`
	Contract string `json:"contract"`
	Gateway  string `json:"gateway,omitempty"`
	Box      string `json:"box,omitempty"`
	Tx       string `json:"tx"`
	Block    uint64 `json:"block"`
}

func (a *app) chainCmd() *cobra.Command {
	var cf chainFlags
	cmd := &cobra.Command{
		Use:   "chain",
		Short: "Consortium admin actions on the anchor contract: deploy, register, rotate, revoke",
		Long: `chain sends the consortium admin's transactions to the anchor contract.

  deploy    deploys the anchor contract with the admin as its admin
  register  binds a gateway account to a box name and its record key
  rotate    replaces a gateway's record key (after an approved firmware
            upgrade); receipts anchored under the old key keep verifying
  revoke    revokes a gateway: verifiers stop trusting all it anchored

Each is an event on chain (GatewayRegistered, KeyRotated, GatewayRevoked).
The admin key is a go-ethereum keystore file (--admin-keystore) decrypted
with the passphrase in --passphrase-file.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&cf.rpc, "rpc", "", "JSON-RPC URL of a consortium node")
	pf.StringVar(&cf.contract, "contract", "", "anchor contract address (not for deploy)")
	pf.StringVar(&cf.keystore, "admin-keystore", "", "the consortium admin account's go-ethereum keystore JSON file")
	pf.StringVar(&cf.passphraseFile, "passphrase-file", "", "file holding the admin keystore's passphrase")
	gw := func(c *cobra.Command) {
		c.Flags().StringVar(&cf.gateway, "gateway", "", "the box's gateway account (0x…), from `wardgate ledger status`")
	}
	box := func(c *cobra.Command) { c.Flags().StringVar(&cf.box, "box", "", "the box name, which is its log name") }
	rk := func(c *cobra.Command) {
		c.Flags().StringVar(&cf.recordKey, "record-key", "", "the box's Ed25519 record key (hex, base64 or PEM file), from its attestation report")
	}
	deploy := a.chainAction(&cf, "deploy", "Deploy the anchor contract", func(ctx context.Context, s *chainadmin.Sender, _ common.Address) (*types.Receipt, error) {
		addr, err := s.Deploy(ctx)
		if err != nil {
			return nil, err
		}
		cf.contract = addr.Hex()
		return nil, nil
	})
	register := a.chainAction(&cf, "register", "Bind a gateway account to a box name and record key", func(ctx context.Context, s *chainadmin.Sender, c common.Address) (*types.Receipt, error) {
		g, k, err := cf.gatewayAndKey(true)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(cf.box) == "" {
			return nil, usageError{errors.New("register needs --box NAME (the box's name in its config)")}
		}
		return s.Register(ctx, c, g, cf.box, k)
	})
	rotate := a.chainAction(&cf, "rotate", "Replace a gateway's record key from the next block on", func(ctx context.Context, s *chainadmin.Sender, c common.Address) (*types.Receipt, error) {
		g, k, err := cf.gatewayAndKey(true)
		if err != nil {
			return nil, err
		}
		return s.Rotate(ctx, c, g, k)
	})
	revoke := a.chainAction(&cf, "revoke", "Revoke a gateway account", func(ctx context.Context, s *chainadmin.Sender, c common.Address) (*types.Receipt, error) {
		g, _, err := cf.gatewayAndKey(false)
		if err != nil {
			return nil, err
		}
		return s.Revoke(ctx, c, g)
	})
	gw(register)
	box(register)
	rk(register)
	gw(rotate)
	rk(rotate)
	gw(revoke)
	cmd.AddCommand(deploy, register, rotate, revoke)
	return cmd
}

// gatewayAndKey parses --gateway and, if wanted, --record-key.
func (cf *chainFlags) gatewayAndKey(wantKey bool) (common.Address, ed25519.PublicKey, error) {
	if !common.IsHexAddress(cf.gateway) {
		return common.Address{}, nil, usageError{fmt.Errorf("--gateway %q is not a 0x… address; the box prints it in `wardgate ledger status`", cf.gateway)}
	}
	if !wantKey {
		return common.HexToAddress(cf.gateway), nil, nil
	}
	if cf.recordKey == "" {
		return common.Address{}, nil, usageError{errors.New("--record-key is required: the box's record key from its attestation report")}
	}
	k, err := parseEd25519Key(cf.recordKey)
	if err != nil {
		return common.Address{}, nil, usageError{fmt.Errorf("--record-key: %w", err)}
	}
	return common.HexToAddress(cf.gateway), k, nil
}

type chainFunc func(ctx context.Context, s *chainadmin.Sender, contract common.Address) (*types.Receipt, error)

// chainAction is one admin subcommand: it opens the admin account, runs f
// and prints the transaction.
func (a *app) chainAction(cf *chainFlags, name, short string, f chainFunc) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short,
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			s, contract, closeFn, err := cf.open(ctx, name != "deploy")
			if err != nil {
				return err
			}
			defer closeFn()
			rc, err := f(ctx, s, contract)
			if err != nil {
				return fmt.Errorf("chain %s: %w", name, err)
			}
			out := chainOutput{Action: name, Contract: cf.contract, Gateway: cf.gateway, Box: cf.box}
			if rc != nil {
				out.Tx, out.Block = rc.TxHash.Hex(), rc.BlockNumber.Uint64()
			}
			if a.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: contract %s", name, out.Contract)
			if out.Gateway != "" {
				fmt.Fprintf(cmd.OutOrStdout(), ", gateway %s", out.Gateway)
			}
			if out.Tx != "" {
				fmt.Fprintf(cmd.OutOrStdout(), ", tx %s in block %d", out.Tx, out.Block)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
}

// open decrypts the admin key and dials --rpc.
func (cf *chainFlags) open(ctx context.Context, needContract bool) (*chainadmin.Sender, common.Address, func(), error) {
	var contract common.Address
	if cf.rpc == "" {
		return nil, contract, nil, usageError{errors.New("--rpc URL is required: a consortium node's JSON-RPC URL")}
	}
	if needContract {
		if !common.IsHexAddress(cf.contract) {
			return nil, contract, nil, usageError{fmt.Errorf("--contract %q is not a 0x… address; use the chain.rpc.contract of the boxes' config", cf.contract)}
		}
		contract = common.HexToAddress(cf.contract)
	}
	if cf.keystore == "" || cf.passphraseFile == "" {
		return nil, contract, nil, usageError{errors.New("--admin-keystore FILE and --passphrase-file FILE are required")}
	}
	kj, err := readBounded(cf.keystore, 64<<10)
	if err != nil {
		return nil, contract, nil, fmt.Errorf("--admin-keystore: %w", err)
	}
	pass, err := os.ReadFile(cf.passphraseFile)
	if err != nil {
		return nil, contract, nil, fmt.Errorf("--passphrase-file: %w", err)
	}
	k, err := keystore.DecryptKey(kj, strings.TrimRight(string(pass), "\r\n"))
	if err != nil {
		return nil, contract, nil, fmt.Errorf("--admin-keystore %s: decrypting (check --passphrase-file): %w", cf.keystore, err)
	}
	cl, err := ethclient.DialContext(ctx, cf.rpc)
	if err != nil {
		return nil, contract, nil, fmt.Errorf("--rpc %s: %w", cf.rpc, err)
	}
	s, err := chainadmin.NewSender(ctx, cl, k.PrivateKey)
	if err != nil {
		cl.Close()
		return nil, contract, nil, fmt.Errorf("--rpc %s: %w", cf.rpc, err)
	}
	return s, contract, cl.Close, nil
}
