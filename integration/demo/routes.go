package main

import (
	"context"

	"github.com/wardgate/wardgate/integration/cluster"
)

// routeB gives hospital b two systems, as most hospitals have: its HL7 v2
// interface engine takes HL7 over MLLP, its EHR takes FHIR (and anything
// else) over HTTP. records.deliver sends each record b receives to the
// system that takes it.
func routeB(c *cluster.Cluster) error {
	b := c.Box("b")
	routes := []map[string]any{
		{"name": "hl7-engine", "match": map[string]any{"content": "hl7v2"}, "endpoint": "mllp://" + c.Sink.MLLPAddr("b")},
		{"name": "ehr-fhir", "match": map[string]any{"content": "any"}, "endpoint": c.Sink.URL("b")},
	}
	if err := b.SetConfig("records.deliver_url", nil); err != nil {
		return err
	}
	return b.SetConfig("records.deliver", routes)
}

// showDelivery shows b's delivery routes in `wardgate status`: the
// engine and the EHR, each with its health.
func showDelivery(ctx context.Context, c *cluster.Cluster) error {
	step("wardgate status   (on b: each delivery route's endpoint and its health)")
	return show(ctx, c.Box("b"), "status")
}

// systemOf names the hospital system a delivery reached.
func systemOf(via string) string {
	if via == "mllp" {
		return "HL7 engine (MLLP)"
	}
	return "EHR (HTTP)"
}
