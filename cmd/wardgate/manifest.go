package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/firmware"
)

func (a *app) manifestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Create and sign firmware reference manifests (vendor side)",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(manifestCreateCmd(), manifestSignCmd())
	return cmd
}

type manifestCreateFlags struct {
	vendor, version, out string
	components           []string
	releases, identities []string
}

func manifestCreateCmd() *cobra.Command {
	var f manifestCreateFlags
	cmd := &cobra.Command{
		Use:   "create --vendor V --version V [--release DIR] [--component NAME=VERSION:PCR:FILE] [--identity FILE]",
		Short: "Write a manifest from release artifacts or a golden box's measurements",
		Long: `create writes an unsigned manifest (canonical JSON) listing approved components from:
  --release DIR      the manifest entry of a release built by ` + "`make release`" + ` (checksums checked)
  --component SPEC   a binary: NAME=VERSION:PCR:FILE, hashed here
  --identity FILE    a golden box's ` + "`wardgated --identity`" + ` output
Sign it with ` + "`wardgate manifest sign`" + `; check it with ` + "`wardgate firmware verify`" + `.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := createManifest(f)
			if err != nil {
				return err
			}
			mj, err := m.Canonical()
			if err != nil {
				return err
			}
			if f.out == "" || f.out == "-" {
				_, err = cmd.OutOrStdout().Write(append(mj, '\n'))
				return err
			}
			return os.WriteFile(f.out, mj, 0o644)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.vendor, "vendor", "", "vendor name (required)")
	fl.StringVar(&f.version, "version", "", "manifest version (required)")
	fl.StringVarP(&f.out, "output", "o", "", "write the manifest here (default stdout)")
	fl.StringArrayVar(&f.components, "component", nil, "NAME=VERSION:PCR:FILE (repeatable)")
	fl.StringArrayVar(&f.releases, "release", nil, "a release directory from `make release` (repeatable)")
	fl.StringArrayVar(&f.identities, "identity", nil, "a golden box's `wardgated --identity` JSON (repeatable)")
	return cmd
}

// createManifest gathers components from every source; the manifest's
// own validation refuses duplicates and bad digests.
func createManifest(f manifestCreateFlags) (*firmware.Manifest, error) {
	if f.vendor == "" || f.version == "" {
		return nil, usageError{errors.New("manifest create needs --vendor and --version")}
	}
	m := &firmware.Manifest{Vendor: f.vendor, Version: f.version}
	for _, spec := range f.components {
		c, err := componentFromSpec(spec)
		if err != nil {
			return nil, err
		}
		m.Components = append(m.Components, c)
	}
	for _, dir := range f.releases {
		cs, err := componentsFromRelease(dir)
		if err != nil {
			return nil, err
		}
		m.Components = append(m.Components, cs...)
	}
	for _, path := range f.identities {
		cs, err := componentsFromIdentity(path)
		if err != nil {
			return nil, err
		}
		m.Components = append(m.Components, cs...)
	}
	if len(m.Components) == 0 {
		return nil, usageError{errors.New("manifest create needs at least one --release, --component or --identity")}
	}
	m.Components = mergeSame(m.Components)
	return m, nil
}

// mergeSame keeps one entry for a component that two sources list alike
// (a golden box measured the released binary), with the SBOM digest if
// either has it. Entries that differ are kept, and validation names them.
func mergeSame(cs []firmware.Component) []firmware.Component {
	var out []firmware.Component
	idx := map[firmware.Component]int{}
	for _, c := range cs {
		key := c
		key.SBOMSHA256 = ""
		if i, ok := idx[key]; ok {
			if out[i].SBOMSHA256 == "" {
				out[i].SBOMSHA256 = c.SBOMSHA256
			}
			continue
		}
		idx[key] = len(out)
		out = append(out, c)
	}
	return out
}

// componentFromSpec hashes the file of NAME=VERSION:PCR:FILE.
func componentFromSpec(spec string) (firmware.Component, error) {
	name, rest, ok1 := strings.Cut(spec, "=")
	version, rest, ok2 := strings.Cut(rest, ":")
	pcrText, file, ok3 := strings.Cut(rest, ":")
	pcr, err := strconv.Atoi(pcrText)
	if !ok1 || !ok2 || !ok3 || err != nil || name == "" || version == "" || file == "" {
		return firmware.Component{}, usageError{fmt.Errorf("--component %q: want NAME=VERSION:PCR:FILE, e.g. wardgated=1.4.0:8:dist/wardgated", spec)}
	}
	bc, err := firmware.MeasureFile(name, version, pcr, file)
	if err != nil {
		return firmware.Component{}, fmt.Errorf("--component %s: %w", name, err)
	}
	return firmware.Component{Name: name, Version: version, PCR: pcr, SHA256: fmt.Sprintf("%x", bc.Digest)}, nil
}

// componentsFromRelease takes the manifest entry of a release directory
// after checking that each named binary still has its digest.
func componentsFromRelease(dir string) ([]firmware.Component, error) {
	b, err := readBounded(filepath.Join(dir, firmware.ManifestFile), firmware.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("--release: %w", err)
	}
	rm, err := firmware.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("--release %s: %w", dir, err)
	}
	for _, c := range rm.Components {
		d, _, err := firmware.HashFile(filepath.Join(dir, c.Name))
		if err != nil {
			return nil, fmt.Errorf("--release: %w", err)
		}
		if d != c.SHA256 {
			return nil, fmt.Errorf("--release %s: %s is %s, its manifest entry says %s; rebuild with make release", dir, c.Name, d, c.SHA256)
		}
	}
	return rm.Components, nil
}

// identityFile is the part of `wardgated --identity` output read here.
type identityFile struct {
	Box        string               `json:"box"`
	Components []firmware.Component `json:"components"`
}

func componentsFromIdentity(path string) ([]firmware.Component, error) {
	b, err := readBounded(path, firmware.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("--identity: %w", err)
	}
	var id identityFile
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&id); err != nil {
		return nil, fmt.Errorf("--identity %s: not `wardgated --identity` JSON: %w", path, err)
	}
	if len(id.Components) == 0 {
		return nil, fmt.Errorf("--identity %s: \"components\" is empty; run wardgated --identity on the golden box", path)
	}
	return id.Components, nil
}

func manifestSignCmd() *cobra.Command {
	var key, sigPath string
	cmd := &cobra.Command{
		Use:   "sign MANIFEST --key KEY",
		Short: "Sign a manifest with the vendor key (writes canonical MANIFEST and MANIFEST.sig)",
		Long: `sign rewrites MANIFEST in canonical form and writes its detached signature
(--signature, default MANIFEST with .sig in place of .json), which
` + "`wardgate firmware verify --vendor-key`" + ` and wardgated check. The key is an
Ed25519 PKCS#8 PEM file (openssl genpkey -algorithm ed25519).`,
		Args: exactArgs("MANIFEST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageError{errors.New("manifest sign needs --key: the vendor's Ed25519 private key (PKCS#8 PEM)")}
			}
			s, err := firmware.LoadFileSigner(key)
			if err != nil {
				return usageError{fmt.Errorf("--key: %w", err)}
			}
			if sigPath == "" {
				sigPath = strings.TrimSuffix(args[0], ".json") + ".sig"
			}
			if err := signManifestFile(args[0], sigPath, s); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s: %s\n", args[0], sigPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "vendor Ed25519 private key (PKCS#8 PEM file)")
	cmd.Flags().StringVar(&sigPath, "signature", "", "where to write the signature (default MANIFEST with .sig for .json)")
	return cmd
}

// signManifestFile validates the manifest, writes it back canonical (the
// bytes the signature covers) and writes the detached signature.
func signManifestFile(path, sigPath string, s firmware.Signer) error {
	b, err := readBounded(path, firmware.MaxManifestSize)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	m, err := firmware.ParseManifest(b)
	if err != nil {
		return err
	}
	mj, sig, err := firmware.SignManifestWith(m, s)
	if err != nil {
		return err
	}
	if !bytes.Equal(mj, b) {
		if err := os.WriteFile(path, mj, 0o644); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
	}
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		return fmt.Errorf("manifest signature: %w", err)
	}
	return nil
}
