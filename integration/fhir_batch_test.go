package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
)

// TestFHIRBatchDeliveryDaemons turns on records.deliver_fhir_batch at b, as
// a hospital whose FHIR server takes batch Bundles would: a bulk export
// from a reaches b's EHR in batch Bundles, every record countersigned and
// stored once, and a non-FHIR record (HL7 over MLLP) is still delivered
// on its own.
func TestFHIRBatchDeliveryDaemons(t *testing.T) {
	c := newCluster(t, cluster.Userspace, []string{"a", "b"})
	A, B := c.Box("a"), c.Box("b")
	if err := B.SetConfig("records.deliver_fhir_batch", true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	startPair(ctx, t, A, B)
	var res [][]byte
	for i := 0; i < 50; i++ {
		res = append(res, fmt.Appendf(nil, `{"resourceType":"Observation","id":"fb-%d","status":"final"}`, i))
	}
	code, body, err := A.PostBulk(ctx, "b", res)
	if err != nil || code != http.StatusOK || bytes.Count(body, []byte(`"countersign":{`)) != len(res) {
		t.Fatalf("bulk POST A->B: %d %.300s %v", code, body, err)
	}
	byBatch := 0
	for _, d := range c.Sink.Deliveries("b") {
		if d.Via == "http-fhir-batch" {
			byBatch++
		}
	}
	if byBatch != len(res) {
		t.Fatalf("b's EHR got %d records in batch Bundles, want %d", byBatch, len(res))
	}
	for i := range res {
		if n := countDeliveries(c.Sink.Deliveries("b"), res[i]); n != 1 {
			t.Fatalf("record %d stored %d times", i, n)
		}
	}
	if ack, err := A.SendHL7(ctx, []byte(adt("b", "FB0001"))); err != nil || ack.Code != "AA" {
		t.Fatalf("HL7 A->B: ack %+v, err %v", ack, err)
	}
	if d, err := c.Sink.WaitFor(ctx, "b", "MRNFB0001"); err != nil || d.Via != "http" {
		t.Fatalf("HL7 record at b's EHR: %+v %v", d, err)
	}
}
