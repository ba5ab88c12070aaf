package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/internal/testutil"
)

// TestNoRecordAtRest: two hospitals' boxes, as separate processes, carry
// records both ways (FHIR over HTTP, HL7 over MLLP, a bulk export), each
// holding a canary. The processes run with TMPDIR inside the consortium's
// folder, which also holds their state dirs, configs and logs; once they
// have stopped, no file anywhere under it may hold a canary, in bytes or
// in base64 (standard or URL alphabet, at any alignment). Bodies live in
// memory only: a box that spooled them to a temporary file, a log or the
// journal would be keeping patient data at rest.
func TestNoRecordAtRest(t *testing.T) {
	c := newCluster(t, cluster.Userspace, []string{"a", "b"})
	watchTMPDIR(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exchangeAndScan(ctx, t, c, admitted, nil)
}

// TestNoRecordAtRestThroughRelay is TestNoRecordAtRest with the two boxes
// behind NAT and every record carried by the relay process, which runs
// with the same TMPDIR: the relaying process keeps nothing either.
func TestNoRecordAtRestThroughRelay(t *testing.T) {
	c, n := natCluster(t, 2*time.Second, cluster.NATOptions{Via: "relay", Isolate: true})
	watchTMPDIR(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := n.StartRelay(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exchangeAndScan(ctx, t, c, onPath("relay"), n.KillRelay)
}

// watchTMPDIR points the processes the test starts from now on at a
// TMPDIR inside the consortium's folder, which the scan covers.
func watchTMPDIR(t *testing.T, c *cluster.Cluster) {
	tmp := filepath.Join(c.Dir(), "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp) // the boxes (and the relay) inherit it
}

// exchangeAndScan waits until the two boxes admit each other (ready),
// carries canary records both ways, stops every process (stopMore stops
// any besides the boxes) and scans the consortium's folder.
func exchangeAndScan(ctx context.Context, t *testing.T, c *cluster.Cluster, ready func(cluster.Peer) bool, stopMore func()) {
	t.Helper()
	boxes := c.Boxes()
	if len(boxes) != 2 {
		t.Fatalf("want two boxes, have %d", len(boxes))
	}
	pairs := [][2]*cluster.Box{{boxes[0], boxes[1]}, {boxes[1], boxes[0]}}
	for _, p := range pairs {
		if _, err := p[0].WaitPeer(ctx, p[1].Name, ready); err != nil {
			t.Fatal(err)
		}
	}
	var canaries []string
	for _, p := range pairs {
		canaries = append(canaries, sendCanaries(ctx, t, c, p[0], p[1])...)
	}
	for _, b := range boxes {
		if err := b.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if stopMore != nil {
		stopMore()
	}
	n := testutil.NoneAtRest(t, canaries, c.Dir())
	if n == 0 {
		t.Fatalf("no files under %s: the scan saw nothing", c.Dir())
	}
	t.Logf("scanned %d files under %s for %d canaries", n, c.Dir(), len(canaries))
}

// sendCanaries sends from→to one record of each kind, each with its own
// canary, waits until to's hospital has them, and returns the canaries.
func sendCanaries(ctx context.Context, t *testing.T, c *cluster.Cluster, from, to *cluster.Box) []string {
	t.Helper()
	canary := func() string {
		b := make([]byte, 16)
		rand.Read(b)
		return "CANARY" + strings.ToUpper(hex.EncodeToString(b))
	}
	fhirC, hl7C, bulkC := canary(), canary(), canary()
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"` +
		fhirC + `","given":["Jane"]}],"birthDate":"1980-01-01"},"request":{"method":"POST","url":"Patient"}}]}`)
	if code, body, err := from.PostRecord(ctx, to.Name, "application/fhir+json", bundle); err != nil || code != http.StatusOK {
		t.Fatalf("FHIR %s->%s: %d %s %v", from.Name, to.Name, code, body, err)
	}
	msg := strings.Replace(adt(to.Name, "REST"+from.Name), "DOE^JANE", hl7C+"^JANE", 1)
	if ack, err := from.SendHL7(ctx, []byte(msg)); err != nil || ack.Code != "AA" {
		t.Fatalf("HL7 %s->%s: ack %+v %v", from.Name, to.Name, ack, err)
	}
	obs := fmt.Appendf(nil, `{"resourceType":"Observation","status":"final","note":[{"text":"%s"}]}`, bulkC)
	if code, body, err := from.PostBulk(ctx, to.Name, [][]byte{obs}); err != nil || code != http.StatusOK {
		t.Fatalf("bulk %s->%s: %d %s %v", from.Name, to.Name, code, body, err)
	}
	for _, cn := range []string{fhirC, hl7C, bulkC} {
		if _, err := c.Sink.WaitFor(ctx, to.Name, cn); err != nil {
			t.Fatalf("%s's hospital never got canary %s: %v", to.Name, cn, err)
		}
	}
	return []string{fhirC, hl7C, bulkC}
}
