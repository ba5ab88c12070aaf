package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/firmware"
)

// firmwareVerifyOutput is `wardgate firmware verify --json`.
type firmwareVerifyOutput struct {
	Manifest   string               `json:"manifest"`
	Vendor     string               `json:"vendor"`
	Version    string               `json:"version"`
	Approved   int                  `json:"approved_components"`
	Signature  string               `json:"signature"` // verified | not checked
	Box        string               `json:"box,omitempty"`
	Components []measuredVsManifest `json:"components,omitempty"`
	Pass       bool                 `json:"pass"`
}

type measuredVsManifest struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	PCR        int    `json:"pcr"`
	Digest     string `json:"digest"`
	InManifest bool   `json:"in_manifest"`
	// Approved is the manifest's name and version for this digest.
	Approved string `json:"approved,omitempty"`
}

// firmwareVerifyFlags are the flags of `wardgate firmware verify`.
type firmwareVerifyFlags struct {
	sigPath    string
	vendorKeys []string
	offline    bool
}

func (a *app) firmwareVerifyCmd() *cobra.Command {
	var f firmwareVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify MANIFEST",
		Short: "Verify a manifest's signature, then the box's measured components against it",
		Long: `verify checks a firmware reference manifest and compares the box's own
measured boot components (from wardgated) against it.

With --vendor-key the detached signature (--signature, default MANIFEST with
.sig in place of .json) must verify under one of the keys; without it only
the manifest's form is checked and a warning says so. --offline skips the
comparison with the box. Exits 1 if the signature fails or any measured
component is not in the manifest.`,
		Args: exactArgs("MANIFEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.firmwareVerify(cmd, args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.sigPath, "signature", "", "detached signature file (default: MANIFEST with .sig for .json)")
	cmd.Flags().StringArrayVar(&f.vendorKeys, "vendor-key", nil, "vendor Ed25519 public key: a PEM or hex file, or hex/base64 inline (repeatable)")
	cmd.Flags().BoolVar(&f.offline, "offline", false, "only check the manifest; do not ask wardgated for the box's measurements")
	return cmd
}

// firmwareVerify loads the manifest, compares the box's measurements with
// it unless --offline, prints the result, and fails unless all matched.
func (a *app) firmwareVerify(cmd *cobra.Command, path string, f firmwareVerifyFlags) error {
	m, signature, err := loadManifest(path, f)
	if err != nil {
		return err
	}
	out := firmwareVerifyOutput{Manifest: path, Signature: signature,
		Vendor: m.Vendor, Version: m.Version, Approved: len(m.Components), Pass: true}
	if !f.offline {
		if err := a.compareWithBox(cmd, m, &out); err != nil {
			return err
		}
	}
	w := cmd.OutOrStdout()
	if a.json {
		if err := printJSON(w, out); err != nil {
			return err
		}
	} else {
		printFirmwareVerify(w, out, f.offline)
	}
	return out.failure()
}

// loadManifest reads the manifest, verifying its detached signature when
// vendor keys are given, and says whether it did ("verified" or "not
// checked").
func loadManifest(path string, f firmwareVerifyFlags) (*firmware.Manifest, string, error) {
	if len(f.vendorKeys) == 0 {
		b, err := readBounded(path, firmware.MaxManifestSize)
		if err != nil {
			return nil, "", fmt.Errorf("manifest: %w", err)
		}
		m, err := firmware.ParseManifest(b)
		if err != nil {
			return nil, "", fmt.Errorf("manifest REFUSED: %w", err)
		}
		return m, "not checked", nil
	}
	var keys []ed25519.PublicKey
	for _, k := range f.vendorKeys {
		pk, err := parseEd25519Key(k)
		if err != nil {
			return nil, "", usageError{fmt.Errorf("--vendor-key: %w", err)}
		}
		keys = append(keys, pk)
	}
	sigPath := f.sigPath
	if sigPath == "" {
		sigPath = strings.TrimSuffix(path, ".json") + ".sig"
	}
	m, err := firmware.LoadManifest(path, sigPath, keys)
	if err != nil {
		return nil, "", fmt.Errorf("manifest REFUSED: %w", err)
	}
	return m, "verified", nil
}

// compareWithBox asks wardgated for the box's measured components and
// looks each up in m. A box that reports none does not pass.
func (a *app) compareWithBox(cmd *cobra.Command, m *firmware.Manifest, out *firmwareVerifyOutput) error {
	c, ctx, cancel := a.client(cmd)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return fmt.Errorf("%w (use --offline to check only the manifest)", err)
	}
	fi, err := c.Firmware(ctx)
	if err != nil {
		return err
	}
	out.Box = st.Box
	for _, mc := range fi.Components {
		row := measuredVsManifest{Name: mc.Name, Version: mc.Version, PCR: mc.PCR, Digest: mc.Digest}
		if d, err := hex.DecodeString(mc.Digest); err == nil {
			if ac, ok := m.Lookup(d); ok && ac.PCR == mc.PCR {
				row.InManifest, row.Approved = true, ac.Name+" "+ac.Version
			}
		}
		out.Pass = out.Pass && row.InManifest
		out.Components = append(out.Components, row)
	}
	if len(fi.Components) == 0 {
		out.Pass = false
	}
	return nil
}

func printFirmwareVerify(w io.Writer, out firmwareVerifyOutput, offline bool) {
	t := newTable(w)
	fmt.Fprintf(t, "manifest:\t%s\n", out.Manifest)
	fmt.Fprintf(t, "  vendor:\t%s %s, %d approved components\n", out.Vendor, out.Version, out.Approved)
	fmt.Fprintf(t, "  signature:\t%s\n", out.Signature)
	if !offline {
		fmt.Fprintf(t, "box:\t%s\n", out.Box)
	}
	t.Flush()
	if len(out.Components) > 0 {
		t = newTable(w)
		fmt.Fprintln(t, "COMPONENT\tVERSION\tPCR\tDIGEST\tIN MANIFEST")
		for _, r := range out.Components {
			in := "NO"
			if r.InManifest {
				in = "yes (" + r.Approved + ")"
			}
			fmt.Fprintf(t, "%s\t%s\t%d\t%s\t%s\n", r.Name, orDash(r.Version), r.PCR, short(r.Digest, 16), in)
		}
		t.Flush()
	}
	if out.Signature != "verified" {
		fmt.Fprintln(w, "warning: signature not checked; pass --vendor-key to verify it")
	}
}

// failure is the command's error when the box did not pass: how many
// measured components the manifest lacks, or that there were none.
func (out firmwareVerifyOutput) failure() error {
	if out.Pass {
		return nil
	}
	missing := 0
	for _, r := range out.Components {
		if !r.InManifest {
			missing++
		}
	}
	if missing == 0 {
		return errors.New("the box reported no measured components")
	}
	return fmt.Errorf("%d measured component(s) of %s are not in manifest %s %s", missing, out.Box, out.Vendor, out.Version)
}
