// Command demo runs a local three-hospital consortium and shows wardgate's
// main job: hospitals a and b attest each other and bring their tunnel up,
// c boots an unapproved kernel and is refused, a sends b a FHIR Bundle over
// HTTP and an HL7 ADT over MLLP, b's routes deliver the Bundle to its EHR
// and the ADT to its HL7 engine (both in `wardgate status`), and each
// receipt is verified against the chain with `wardgate verify`. It needs no root: userspace tunnels on
// loopback, one simulated TPM per wardgated process, the embedded dev chain.
//
//	go run ./integration/demo --bin dist --dir /tmp/wardgate-demo
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/records/hl7"
)

func main() {
	bin := flag.String("bin", "dist", "directory holding wardgated and wardgate (make release, or make build)")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "wardgate-demo"), "where the boxes keep their state and logs (wiped first)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := run(ctx, *bin, *dir); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		fmt.Fprintf(os.Stderr, "the boxes' logs are in %s/{a,b,c}/wardgated.log\n", *dir)
		os.Exit(1)
	}
}

func step(format string, a ...any) { fmt.Printf("\n== "+format+"\n", a...) }

// demoBundle and demoADT are the two records a sends b: a FHIR
// transaction Bundle over HTTP and an HL7 ADT^A01 over MLLP.
var (
	demoBundle = []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1980-01-01"},"request":{"method":"POST","url":"Patient"}}]}`)
	demoADT    = strings.Join([]string{
		"MSH|^~\\&|EPIC|A|ADT|b|20261124120000||ADT^A01|MSG00001|P|2.5",
		"EVN|A01|20261124120000", "PID|1||MRN12345^^^A^MR||DOE^JANE||19800101|F", "PV1|1|I|WARD1^101^1",
	}, "\r") + "\r"
)

// run is the demo: prepare the three hospitals, start them, show why c is
// refused, send a's records to b, and verify their receipts on chain.
func run(ctx context.Context, binDir, dir string) error {
	bins, err := findBinaries(binDir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	start := time.Now()
	step("preparing hospitals a, b and c in %s (c boots a kernel the vendor never approved)", dir)
	c, err := cluster.New(ctx, cluster.Spec{Dir: dir, Bin: bins, Mode: cluster.Userspace,
		Boxes: []string{"a", "b", "c"}, Tampered: []string{"c"}, Interval: 5 * time.Second, Lifetime: 15 * time.Second})
	if err != nil {
		return err
	}
	defer func() {
		c.Close()
		step("stopped all three wardgated processes; state and logs stay in %s/{a,b,c}", dir)
	}()
	if err := vendorManifest(ctx, c, bins, dir); err != nil {
		return err
	}
	if err := prepareConsent(c); err != nil {
		return err
	}
	if err := routeB(c); err != nil {
		return err
	}
	for _, f := range []func(context.Context, *cluster.Cluster) error{startAndAttest, showRefusal, sendRecords, showDelivery, consentRecords} {
		if err := f(ctx, c); err != nil {
			return err
		}
	}
	if err := reproduceDaemon(ctx, c, bins, dir); err != nil {
		return err
	}
	step("wardgate peers   (on a)")
	if err := show(ctx, c.Box("a"), "peers"); err != nil {
		return err
	}
	if err := verifyReceipts(ctx, c, dir); err != nil {
		return err
	}
	step("done in %.0fs", time.Since(start).Seconds())
	return nil
}

// vendorManifest makes the vendor manifest the way a vendor does, in
// place of the dev generator's: golden box a's `wardgated --identity`
// gives the firmware image's measurements, `wardgate manifest create`
// adds the release's own entry (wardgated and its SBOM digest) when binDir
// is a `make release` dist/, and `wardgate manifest sign` signs it.
func vendorManifest(ctx context.Context, c *cluster.Cluster, bins cluster.Binaries, dir string) error {
	step("wardgate manifest create|sign   (the vendor manifest, from golden box a and the release)")
	id, err := exec.CommandContext(ctx, bins.Daemon, "--config", c.Box("a").ConfigPath, "--identity").Output()
	if err != nil {
		return fmt.Errorf("wardgated --identity on golden box a: %w", err)
	}
	golden := filepath.Join(dir, "golden-a.json")
	if err := os.WriteFile(golden, id, 0o644); err != nil {
		return err
	}
	manifest := filepath.Join(dir, "manifests", "firmware-1.0.json")
	args := []string{"manifest", "create", "--vendor", "wardgate-dev", "--version", "1.0", "--identity", golden, "-o", manifest}
	if release := filepath.Dir(bins.Daemon); fileExists(filepath.Join(release, "manifest.json")) {
		args = append(args, "--release", release)
	}
	for _, a := range [][]string{args, {"manifest", "sign", manifest, "--key", filepath.Join(dir, "vendor", "vendor.key")}} {
		out, err := exec.CommandContext(ctx, bins.CLI, a...).CombinedOutput()
		fmt.Printf("$ wardgate %s\n%s", strings.Join(a, " "), out)
		if err != nil {
			return fmt.Errorf("wardgate %s: %w", a[0]+" "+a[1], err)
		}
	}
	return nil
}

// reproduceDaemon is the security team's check: a's signed report on b
// names the wardgated digest b runs; `wardgate firmware reproduce`
// rebuilds it from this source tree with the release recipe. Only for
// release binaries (make demo), which are the ones that reproduce.
func reproduceDaemon(ctx context.Context, c *cluster.Cluster, bins cluster.Binaries, dir string) error {
	if !fileExists(filepath.Join(filepath.Dir(bins.Daemon), "release.json")) || !fileExists("go.mod") {
		return nil
	}
	a := c.Box("a")
	step("wardgate firmware reproduce   (a's signed report on b, rebuilt from this source tree)")
	var reps []struct {
		ID string `json:"id"`
	}
	if err := a.CLIJSON(ctx, &reps, "reports", "list", "--peer", "b", "--verdict", "pass", "--limit", "1"); err != nil || len(reps) == 0 {
		return fmt.Errorf("a's passing report on b: %w (%d reports)", err, len(reps))
	}
	report, err := a.CLI(ctx, "reports", "show", reps[0].ID, "--json")
	if err != nil {
		return fmt.Errorf("reports show %s: %w", reps[0].ID, err)
	}
	path := filepath.Join(dir, "report-a-on-b.json")
	if err := os.WriteFile(path, report, 0o644); err != nil {
		return err
	}
	var ls struct {
		RecordKey string `json:"record_key"`
	}
	if err := a.CLIJSON(ctx, &ls, "ledger", "status"); err != nil {
		return err
	}
	args := []string{"firmware", "reproduce", "--report", path, "--key", ls.RecordKey, "--source", "."}
	out, err := exec.CommandContext(ctx, bins.CLI, args...).CombinedOutput()
	fmt.Printf("$ wardgate %s\n%s", strings.Join(args, " "), out)
	return err
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// findBinaries finds wardgated and wardgate in binDir.
func findBinaries(binDir string) (cluster.Binaries, error) {
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return cluster.Binaries{}, err
	}
	bins := cluster.Binaries{Daemon: filepath.Join(abs, "wardgated"), CLI: filepath.Join(abs, "wardgate")}
	for _, p := range []string{bins.Daemon, bins.CLI} {
		if _, err := os.Stat(p); err != nil {
			return bins, fmt.Errorf("%s is missing: run `make release` first (make demo does)", p)
		}
	}
	return bins, nil
}

// startAndAttest starts the boxes and waits until a and b admitted each
// other and a refused c.
func startAndAttest(ctx context.Context, c *cluster.Cluster) error {
	a, b := c.Box("a"), c.Box("b")
	step("starting three wardgated processes (each with its own simulated TPM) and the embedded dev chain")
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		return err
	}
	admitted := func(p cluster.Peer) bool { return p.State == "admitted" }
	if _, err := a.WaitPeer(ctx, "b", admitted); err != nil {
		return err
	}
	if _, err := b.WaitPeer(ctx, "a", admitted); err != nil {
		return err
	}
	fmt.Printf("a and b attested each other and admitted the tunnel %.1fs after start\n", time.Since(t0).Seconds())
	_, err := a.WaitPeer(ctx, "c", func(p cluster.Peer) bool { return p.Verdict == "fail" })
	return err
}

// showRefusal prints a's latest report on c and the reasons it failed.
func showRefusal(ctx context.Context, c *cluster.Cluster) error {
	a := c.Box("a")
	step("wardgate reports list --peer c   (on a: why c is refused)")
	if err := show(ctx, a, "reports", "list", "--peer", "c", "--limit", "1"); err != nil {
		return err
	}
	var reps []struct {
		Reasons []struct{ Code, Message string } `json:"reasons"`
	}
	if err := a.CLIJSON(ctx, &reps, "reports", "list", "--peer", "c", "--verdict", "fail", "--limit", "1"); err == nil && len(reps) > 0 {
		for _, r := range reps[0].Reasons {
			fmt.Printf("  c refused: %s: %s\n", r.Code, r.Message)
		}
	}
	return nil
}

// sendRecords sends b the Bundle and the ADT from a's hospital systems and
// waits until b delivered both to its LAN.
func sendRecords(ctx context.Context, c *cluster.Cluster) error {
	a := c.Box("a")
	step("a's EHR posts a FHIR Bundle for b; a's HL7 engine sends an ADT^A01 over MLLP")
	if err := postRecord(ctx, a, "b", "application/fhir+json", demoBundle); err != nil {
		return err
	}
	fmt.Printf("  HTTP POST /v1/records To: b  -> 200, countersigned by b (digest %s)\n", digest(demoBundle)[:16])
	ack, err := sendHL7(ctx, a, demoADT)
	if err != nil {
		return err
	}
	fmt.Printf("  MLLP ADT^A01 MSG00001 -> ACK %s (digest %s)\n", ack.Code, digest([]byte(demoADT))[:16])
	for _, want := range []string{"Jane", "MRN12345"} {
		d, err := c.Sink.WaitFor(ctx, "b", want)
		if err != nil {
			return err
		}
		fmt.Printf("  b's routes took %d bytes of %s to its %s\n", len(d.Body), d.ContentType, systemOf(d.Via))
	}
	return nil
}

// verifyReceipts waits for each record's anchored receipt on a and checks
// it with `wardgate verify` against the chain.
func verifyReceipts(ctx context.Context, c *cluster.Cluster, dir string) error {
	a, b := c.Box("a"), c.Box("b")
	step("receipts, once a's checkpoint is anchored on the dev chain; `wardgate verify` against %s", c.ChainURL)
	// Each box's record key is bound in its attestation (a's reports on b,
	// b's on a); the chain id and contract are the consortium's. Pinning them
	// is what a security team does.
	var ls struct {
		RecordKey string `json:"record_key"`
		ChainID   uint64 `json:"chain_id"`
		Contract  string `json:"contract"`
	}
	if err := a.CLIJSON(ctx, &ls, "ledger", "status"); err != nil {
		return err
	}
	var lsb struct {
		RecordKey string `json:"record_key"`
	}
	if err := b.CLIJSON(ctx, &lsb, "ledger", "status"); err != nil {
		return err
	}
	pins := []string{"--rpc", c.ChainURL, "--record-key", ls.RecordKey, "--receiver-key", lsb.RecordKey,
		"--chain-id", fmt.Sprint(ls.ChainID), "--contract", ls.Contract}
	for i, rec := range [][]byte{demoBundle, []byte(demoADT)} {
		if err := verifyReceipt(ctx, a, dir, i+1, rec, pins); err != nil {
			return err
		}
	}
	return nil
}

// verifyReceipt saves record n and its anchored receipt and runs
// `wardgate verify` on them with the pins, showing the command and output.
func verifyReceipt(ctx context.Context, a *cluster.Box, dir string, n int, rec []byte, pins []string) error {
	f, err := anchoredReceipt(ctx, a, rec, dir)
	if err != nil {
		return err
	}
	rf := filepath.Join(dir, fmt.Sprintf("record-%d", n))
	if err := os.WriteFile(rf, rec, 0o600); err != nil {
		return err
	}
	args := append([]string{"verify", "--receipt", f, "--record", rf}, pins...)
	out, err := a.CLI(ctx, args...)
	fmt.Printf("$ wardgate %s\n%s", strings.Join(args, " "), indent(out))
	return err
}

func show(ctx context.Context, b *cluster.Box, args ...string) error {
	out, err := b.CLI(ctx, args...)
	fmt.Print(string(out))
	return err
}

func indent(b []byte) string {
	s := strings.TrimRight(string(b), "\n")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

func digest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

func postRecord(ctx context.Context, b *cluster.Box, to, ct string, body []byte) error {
	// A box answers 502 peer_unreachable while the tunnel's first
	// handshake is still outstanding; like a hospital system, resend the
	// same record (it is delivered once).
	for try := 1; ; try++ {
		code, out, err := b.PostRecord(ctx, to, ct, body)
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			return nil
		}
		if code != http.StatusBadGateway || !bytes.Contains(out, []byte(`"peer_unreachable"`)) || try == 3 {
			return fmt.Errorf("POST /v1/records to %s: %d: %s", to, code, out)
		}
		fmt.Printf("  (%s's tunnel to %s is not up yet; sending the same record again)\n", b.Name, to)
	}
}

func sendHL7(ctx context.Context, b *cluster.Box, msg string) (*hl7.Ack, error) {
	ack, err := b.SendHL7(ctx, []byte(msg))
	if err != nil {
		return nil, err
	}
	if ack.Code != "AA" {
		return ack, fmt.Errorf("HL7 message refused: %s %s", ack.Code, ack.Text)
	}
	return ack, nil
}

// anchoredReceipt waits for the anchored receipt of rec on b and saves it,
// as the box returns it, where `wardgate verify` can read it.
func anchoredReceipt(ctx context.Context, b *cluster.Box, rec []byte, dir string) (string, error) {
	d := digest(rec)
	data, err := b.AnchoredReceipt(ctx, d)
	if err != nil {
		return "", err
	}
	f := filepath.Join(dir, "receipt-"+d[:12]+".json")
	return f, os.WriteFile(f, data, 0o644)
}
