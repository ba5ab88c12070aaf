package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/firmware"
)

func (a *app) releaseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Build, sign and verify reproducible releases (dist/)",
		Args:  subcommandArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(a.releaseBuildCmd(), releaseSignCmd(), a.releaseVerifyCmd())
	return cmd
}

type releaseBuildFlags struct {
	source, out, version, vendor, sbomTool, key string
}

func (a *app) releaseBuildCmd() *cobra.Command {
	var f releaseBuildFlags
	cmd := &cobra.Command{
		Use:   "build --version V",
		Short: "Build wardgated and wardgate with the release recipe into dist/",
		Long: `build builds the release binaries from --source with the release recipe
(-trimpath, -buildvcs=false, -ldflags "-buildid= -X ...gateway.version=V", the
pinned Go toolchain ` + firmware.ReleaseToolchain + `), writes a CycloneDX SBOM for each (with
--sbom-tool), the manifest entry for wardgated naming its SBOM's digest,
release.json and SHA256SUMS; with --key it signs the manifest and SHA256SUMS.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := firmware.ReleaseOptions{Source: f.source, Out: f.out, Vendor: f.vendor, SBOMTool: f.sbomTool,
				Recipe: firmware.Recipe{Version: f.version, Toolchain: firmware.ReleaseToolchain}, Env: os.Environ()}
			if f.key != "" {
				s, err := firmware.LoadFileSigner(f.key)
				if err != nil {
					return usageError{fmt.Errorf("--key: %w", err)}
				}
				o.Signer = s
			}
			info, err := firmware.BuildRelease(cmd.Context(), o)
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(cmd.OutOrStdout(), info)
			}
			t := newTable(cmd.OutOrStdout())
			fmt.Fprintf(t, "release %s built with %s into %s\n", f.version, info.GoVersion, f.out)
			for _, x := range info.Artifacts {
				fmt.Fprintf(t, "%s\t%d bytes\tsha256 %s\t%s\n", x.Name, x.Size, x.SHA256, orDash(x.SBOM))
			}
			return t.Flush()
		},
	}
	cmd.Flags().StringVar(&f.source, "source", ".", "source tree to build")
	cmd.Flags().StringVar(&f.out, "out", "dist", "directory to write the release into")
	cmd.Flags().StringVar(&f.version, "version", "", "release version, carried into the binaries (required)")
	cmd.Flags().StringVar(&f.vendor, "vendor", "wardgate", "vendor name in the manifest")
	cmd.Flags().StringVar(&f.sbomTool, "sbom-tool", "", "path of cyclonedx-gomod (v1.10.0); empty: no SBOMs")
	cmd.Flags().StringVar(&f.key, "key", "", "vendor Ed25519 private key (PKCS#8 PEM) to sign manifest and SHA256SUMS")
	return cmd
}

func releaseSignCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "sign DIR --key KEY",
		Short: "Sign a built release's manifest and SHA256SUMS with the vendor key",
		Args:  exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := firmware.LoadFileSigner(key)
			if err != nil {
				return usageError{fmt.Errorf("--key: %w", err)}
			}
			dir := args[0]
			mpath := filepath.Join(dir, firmware.ManifestFile)
			if err := signManifestFile(mpath, filepath.Join(dir, firmware.ManifestSigFile), s); err != nil {
				return err
			}
			sums, err := readBounded(filepath.Join(dir, firmware.SumsFile), 1<<20)
			if err != nil {
				return err
			}
			names, err := firmware.ParseSums(sums)
			if err != nil {
				return err
			}
			list := []string{firmware.ManifestSigFile}
			for n := range names {
				if n != firmware.ManifestSigFile {
					list = append(list, n)
				}
			}
			if sums, err = firmware.WriteSums(dir, list); err != nil {
				return err
			}
			if err := firmware.SignSums(dir, s, sums); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s and %s in %s\n", firmware.ManifestFile, firmware.SumsFile, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "vendor Ed25519 private key (PKCS#8 PEM)")
	return cmd
}

func (a *app) releaseVerifyCmd() *cobra.Command {
	var vendorKeys []string
	cmd := &cobra.Command{
		Use:   "verify DIR --vendor-key KEY",
		Short: "Check a release: SHA256SUMS signature, every checksum, the manifest and each SBOM link",
		Args:  exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := vendorKeyList(vendorKeys)
			if err != nil {
				return err
			}
			v, err := firmware.VerifyRelease(args[0], keys)
			if err != nil {
				return fmt.Errorf("REFUSED: %w", err)
			}
			if a.json {
				return printJSON(cmd.OutOrStdout(), v)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: signature ok, %d checksums ok, manifest %s %s verified, SBOMs linked: %v\n",
				firmware.SumsFile, len(v.Files), v.Manifest.Vendor, v.Manifest.Version, v.SBOMs)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&vendorKeys, "vendor-key", nil, "vendor Ed25519 public key: a PEM or hex file, or hex/base64 inline (repeatable)")
	return cmd
}

// vendorKeyList parses --vendor-key values; at least one is required.
func vendorKeyList(vals []string) ([]ed25519.PublicKey, error) {
	if len(vals) == 0 {
		return nil, usageError{errors.New("--vendor-key is required: the vendor's Ed25519 public key")}
	}
	var keys []ed25519.PublicKey
	for _, k := range vals {
		pk, err := parseEd25519Key(k)
		if err != nil {
			return nil, usageError{fmt.Errorf("--vendor-key: %w", err)}
		}
		keys = append(keys, pk)
	}
	return keys, nil
}
