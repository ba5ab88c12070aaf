package main

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/firmware"
)

// reproduceVerdict is the outcome of `firmware reproduce`.
type reproduceVerdict string

const (
	reproduced        reproduceVerdict = "reproduced"
	digestDiffers     reproduceVerdict = "digest_differs"
	toolchainDiffers  reproduceVerdict = "toolchain_differs"
	reportSignatureNG reproduceVerdict = "report_signature"
)

type reproduceOutput struct {
	Verdict   reproduceVerdict `json:"verdict"`
	Peer      string           `json:"peer,omitempty"`
	Version   string           `json:"version,omitempty"`
	Reported  string           `json:"reported_digest,omitempty"`
	Rebuilt   string           `json:"rebuilt_digest,omitempty"`
	Toolchain string           `json:"toolchain,omitempty"`
	Detail    string           `json:"detail,omitempty"`
}

type reproduceFlags struct {
	report, source, key, binary, version string
}

func (a *app) firmwareReproduceCmd() *cobra.Command {
	var f reproduceFlags
	cmd := &cobra.Command{
		Use:   "reproduce --report REPORT.json --key KEY --source DIR",
		Short: "Rebuild wardgated from source and compare it with the digest in a signed attestation report",
		Long: `reproduce checks the report's signature under the verifying box's key
(--key), takes the wardgated component it measured (digest and version),
rebuilds wardgated from --source with the release recipe (see
docs/release.md) and prints one of:
  reproduced         the rebuilt binary has the reported digest
  digest_differs     it does not (with --binary, the build settings that differ)
  toolchain_differs  it does not, and the binary was built with another Go
  report_signature   the report does not verify under --key
Needs nothing but the source tree and Go. Exits 1 unless reproduced.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := reproduce(cmd, f)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if a.json {
				if err := printJSON(w, out); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(w, out.Verdict)
				fmt.Fprintf(w, "  peer %s, wardgated %s\n  reported %s\n  rebuilt  %s (%s)\n", out.Peer, out.Version, out.Reported, orDash(out.Rebuilt), orDash(out.Toolchain))
				if out.Detail != "" {
					fmt.Fprintf(w, "  %s\n", out.Detail)
				}
			}
			if out.Verdict != reproduced {
				return fmt.Errorf("firmware reproduce: %s", out.Verdict)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.report, "report", "", "a signed attestation report (`wardgate reports show ID --json`)")
	fl.StringVar(&f.key, "key", "", "the verifying box's Ed25519 public key (hex, base64, or a PEM/hex file)")
	fl.StringVar(&f.source, "source", ".", "the source tree to rebuild from")
	fl.StringVar(&f.binary, "binary", "", "optional: the binary that was measured, to name how its build differs")
	fl.StringVar(&f.version, "version", "", "release version to build (default: the version in the report)")
	return cmd
}

// reproduce verifies the report, rebuilds and compares.
func reproduce(cmd *cobra.Command, f reproduceFlags) (reproduceOutput, error) {
	if f.report == "" || f.key == "" {
		return reproduceOutput{}, usageError{errors.New("firmware reproduce needs --report and --key")}
	}
	pub, err := parseEd25519Key(f.key)
	if err != nil {
		return reproduceOutput{}, usageError{fmt.Errorf("--key: %w", err)}
	}
	data, err := readBounded(f.report, attest.MaxReportSize)
	if err != nil {
		return reproduceOutput{}, err
	}
	r, err := attest.VerifyReport(data, pub)
	if errors.Is(err, attest.ErrReportSignature) {
		return reproduceOutput{Verdict: reportSignatureNG, Detail: err.Error()}, nil
	}
	if err != nil {
		return reproduceOutput{}, fmt.Errorf("--report %s: %w", f.report, err)
	}
	out := reproduceOutput{Peer: r.Peer}
	for _, c := range r.Components {
		if c.Name == firmware.DaemonComponent {
			out.Version, out.Reported = c.Version, c.Digest
		}
	}
	if out.Reported == "" {
		return out, fmt.Errorf("--report %s: no %s component measured", f.report, firmware.DaemonComponent)
	}
	if f.version != "" {
		out.Version = f.version
	}
	return rebuildAndCompare(cmd, f, out)
}

func rebuildAndCompare(cmd *cobra.Command, f reproduceFlags, out reproduceOutput) (reproduceOutput, error) {
	tmp, err := os.MkdirTemp("", "wardgate-reproduce-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(tmp)
	rec := firmware.Recipe{Version: out.Version, Toolchain: firmware.ReleaseToolchain}
	bin := filepath.Join(tmp, firmware.DaemonComponent)
	if err := rec.Build(cmd.Context(), f.source, bin, firmware.ReleaseTargets[0], os.Environ()); err != nil {
		return out, err
	}
	if out.Rebuilt, _, err = firmware.HashFile(bin); err != nil {
		return out, err
	}
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		out.Toolchain = bi.GoVersion
	}
	if out.Rebuilt == out.Reported {
		out.Verdict = reproduced
		return out, nil
	}
	out.Verdict, out.Detail = explainDifference(f.binary, bin)
	return out, nil
}

// explainDifference compares the measured binary's build information with
// the rebuilt one's: another Go is toolchain_differs; anything else is
// digest_differs, naming the settings that differ.
func explainDifference(measured, rebuilt string) (reproduceVerdict, string) {
	if measured == "" {
		return digestDiffers, "pass --binary with the measured binary to see how its build differs"
	}
	a, errA := buildinfo.ReadFile(measured)
	b, errB := buildinfo.ReadFile(rebuilt)
	if errA != nil || errB != nil {
		return digestDiffers, fmt.Sprintf("no Go build information to compare: %v", errors.Join(errA, errB))
	}
	if a.GoVersion != b.GoVersion {
		return toolchainDiffers, fmt.Sprintf("measured binary was built with %s, the release recipe uses %s", a.GoVersion, b.GoVersion)
	}
	want := map[string]string{}
	for _, s := range b.Settings {
		want[s.Key] = s.Value
	}
	var diffs []string
	seen := map[string]bool{}
	for _, s := range a.Settings {
		seen[s.Key] = true
		if want[s.Key] != s.Value {
			diffs = append(diffs, fmt.Sprintf("%s=%q (recipe %q)", s.Key, s.Value, want[s.Key]))
		}
	}
	for _, s := range b.Settings {
		if !seen[s.Key] {
			diffs = append(diffs, fmt.Sprintf("%s missing (recipe %q)", s.Key, s.Value))
		}
	}
	if len(diffs) == 0 {
		return digestDiffers, "same toolchain and recorded build settings: the source or the version stamped by -ldflags -X differs (-trimpath builds do not record -ldflags)"
	}
	return digestDiffers, "build settings differ: " + strings.Join(diffs, "; ")
}
