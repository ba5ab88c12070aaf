package main

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/firmware"
)

// runtimePolicyCmd is the vendor's side of runtime integrity: the signed
// list of executables a box may run (attestation.runtime, docs/scale.md).
func runtimePolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime-policy",
		Short: "Sign and check runtime integrity policies (vendor side)",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(runtimePolicySignCmd(), runtimePolicyVerifyCmd())
	return cmd
}

func runtimePolicySignCmd() *cobra.Command {
	var key, sigPath string
	cmd := &cobra.Command{
		Use:   "sign POLICY --key KEY",
		Short: "Sign a runtime policy with the vendor key (writes canonical POLICY and its .sig)",
		Long: `sign checks POLICY (allowed digests per path, exclusions), rewrites it in
canonical form and writes its detached signature (--signature, default
POLICY with .sig in place of .json), which wardgated checks under the
vendor keys before appraising any peer's runtime measurements. The key is
an Ed25519 PKCS#8 PEM file, the same vendor key that signs manifests.`,
		Args: exactArgs("POLICY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageError{errors.New("runtime-policy sign needs --key: the vendor's Ed25519 private key (PKCS#8 PEM)")}
			}
			s, err := firmware.LoadFileSigner(key)
			if err != nil {
				return usageError{fmt.Errorf("--key: %w", err)}
			}
			sigPath = sigPathFor(args[0], sigPath)
			if err := signRuntimePolicyFile(args[0], sigPath, s); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s: %s\n", args[0], sigPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "vendor Ed25519 private key (PKCS#8 PEM file)")
	cmd.Flags().StringVar(&sigPath, "signature", "", "where to write the signature (default POLICY with .sig for .json)")
	return cmd
}

func runtimePolicyVerifyCmd() *cobra.Command {
	var sigPath string
	var vendorKeys []string
	cmd := &cobra.Command{
		Use:   "verify POLICY --vendor-key KEY",
		Short: "Check a runtime policy's signature and contents, as wardgated does",
		Args:  exactArgs("POLICY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := parseVendorKeys(vendorKeys)
			if err != nil {
				return err
			}
			p, err := firmware.LoadRuntimePolicy(args[0], sigPathFor(args[0], sigPath), keys)
			if err != nil {
				return fmt.Errorf("runtime policy REFUSED: %w", err)
			}
			digests := 0
			for _, e := range p.Allowed {
				digests += len(e.SHA256)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "runtime policy %s: verified; version %s, %d paths, %d approved digests, %d exclusions\n",
				args[0], p.Version, len(p.Allowed), digests, len(p.Exclude))
			return nil
		},
	}
	cmd.Flags().StringVar(&sigPath, "signature", "", "the detached signature (default POLICY with .sig for .json)")
	cmd.Flags().StringArrayVar(&vendorKeys, "vendor-key", nil, "vendor Ed25519 public key: a PEM or hex file, or hex/base64 inline (repeatable)")
	return cmd
}

// sigPathFor is the detached signature's path: given, or path with .sig
// in place of .json.
func sigPathFor(path, given string) string {
	if given != "" {
		return given
	}
	return strings.TrimSuffix(path, ".json") + ".sig"
}

// parseVendorKeys parses --vendor-key values; at least one is needed.
func parseVendorKeys(in []string) ([]ed25519.PublicKey, error) {
	if len(in) == 0 {
		return nil, usageError{errors.New("needs --vendor-key: the vendor's Ed25519 public key")}
	}
	var keys []ed25519.PublicKey
	for _, k := range in {
		pk, err := parseEd25519Key(k)
		if err != nil {
			return nil, usageError{fmt.Errorf("--vendor-key: %w", err)}
		}
		keys = append(keys, pk)
	}
	return keys, nil
}

// signRuntimePolicyFile validates the policy, writes it back canonical
// (the bytes the signature covers) and writes the detached signature.
func signRuntimePolicyFile(path, sigPath string, s firmware.Signer) error {
	b, err := readBounded(path, firmware.MaxManifestSize)
	if err != nil {
		return fmt.Errorf("runtime policy: %w", err)
	}
	p, err := firmware.ParseRuntimePolicy(b)
	if err != nil {
		return err
	}
	pj, sig, err := firmware.SignRuntimePolicy(p, s)
	if err != nil {
		return err
	}
	if !bytes.Equal(pj, b) {
		if err := os.WriteFile(path, pj, 0o644); err != nil {
			return fmt.Errorf("runtime policy: %w", err)
		}
	}
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		return fmt.Errorf("runtime policy signature: %w", err)
	}
	return nil
}
