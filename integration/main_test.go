package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/internal/testutil"
)

// bins are wardgated and wardgate, built on first use and shared by the
// package's tests (benchmarks that need no daemon, and their child
// processes, build nothing).
var (
	binDir    string
	buildOnce sync.Once
	bins      cluster.Binaries
	buildErr  error
)

func binaries(tb testing.TB) cluster.Binaries {
	tb.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		bins, buildErr = cluster.Build(ctx, binDir)
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return bins
}

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "wardgate-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// requireRoot skips a namespace test when not root, loudly: CI runs as root,
// so there these tests always run.
func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("SKIPPED: needs root for network namespaces and TUN devices (CI runs as root and runs this test)")
	}
}

// newCluster prepares boxes (the first serves the chain) and stops them
// when the test ends. On failure the boxes' logs are printed.
func newCluster(tb testing.TB, mode cluster.Mode, boxes []string, tampered ...string) *cluster.Cluster {
	tb.Helper()
	return newClusterEvery(tb, 2*time.Second, mode, boxes, tampered...)
}

// newClusterEvery is newCluster with re-attestation every interval
// (verdicts live twice that); the tests use 2 s to see revocations soon.
func newClusterEvery(tb testing.TB, interval time.Duration, mode cluster.Mode, boxes []string, tampered ...string) *cluster.Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.New(ctx, cluster.Spec{
		Dir: tb.TempDir(), Bin: binaries(tb), Mode: mode, Boxes: boxes, Tampered: tampered,
		Interval: interval, Lifetime: 2 * interval,
		Logger: testutil.Logger(tb),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			for _, b := range c.Boxes() {
				tb.Logf("---- %s log (tail) ----\n%s", b.Name, b.LogTail(60))
			}
		}
		c.Close()
	})
	return c
}

func admitted(p cluster.Peer) bool { return p.State == "admitted" }

// receiptView is the part of the relay's receipt the tests look at.
type receiptView struct {
	Digest      string          `json:"digest"`
	Sender      string          `json:"sender"`
	Receiver    string          `json:"receiver"`
	Status      string          `json:"status"`
	Ledger      json.RawMessage `json:"ledger"`
	Countersign json.RawMessage `json:"countersign"`
	raw         []byte
}

// anchoredReceipt waits until box's receipt for body is anchored on chain.
func anchoredReceipt(ctx context.Context, tb testing.TB, b *cluster.Box, body []byte) receiptView {
	tb.Helper()
	d := sha256.Sum256(body)
	return waitAnchored(ctx, tb, b, hex.EncodeToString(d[:]))
}

// waitAnchored waits until box's receipt for digest d is anchored.
func waitAnchored(ctx context.Context, tb testing.TB, box *cluster.Box, d string) receiptView {
	tb.Helper()
	data, err := box.AnchoredReceipt(ctx, d)
	if err != nil {
		tb.Fatal(err)
	}
	var rc receiptView
	if err := json.Unmarshal(data, &rc); err != nil {
		tb.Fatalf("%s's receiptView for %.12s: %v", box.Name, d, err)
	}
	rc.raw = data
	return rc
}

// verifyReceipt runs `wardgate verify` on rc as the box returned it,
// with the record, online against the chain.
func verifyReceipt(ctx context.Context, b *cluster.Box, c *cluster.Cluster, rc receiptView, record []byte, dir string, extra ...string) ([]byte, error) {
	rf := filepath.Join(dir, "receipt-"+rc.Digest[:12]+".json")
	if err := os.WriteFile(rf, rc.raw, 0o644); err != nil {
		return nil, err
	}
	df := filepath.Join(dir, "record-"+rc.Digest[:12])
	if err := os.WriteFile(df, record, 0o600); err != nil {
		return nil, err
	}
	return b.CLI(ctx, append([]string{"verify", "--receipt", rf, "--record", df, "--rpc", c.ChainURL}, extra...)...)
}

// adt is an HL7 v2 ADT^A01 addressed to facility to.
func adt(to, controlID string) string {
	return strings.Join([]string{
		"MSH|^~\\&|EPIC|A|ADT|" + to + "|20261124120000||ADT^A01|" + controlID + "|P|2.5",
		"EVN|A01|20261124120000",
		"PID|1||MRN" + controlID + "^^^A^MR||DOE^JANE||19800101|F",
		"PV1|1|I|WARD1^101^1",
	}, "\r") + "\r"
}

// fhirBundle is a small FHIR transaction Bundle; n makes each one unique.
func fhirBundle(n int) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Bundle","type":"transaction","id":"demo-%d","entry":[{"resource":{"resourceType":"Patient","id":"p%d","name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1980-01-01"},"request":{"method":"POST","url":"Patient"}}]}`, n, n)
}
