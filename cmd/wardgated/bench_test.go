package main

import (
	"context"
	"testing"
	"time"

	"github.com/wardgate/wardgate/gateway/control"
)

// BenchmarkAttestNow measures one on-demand appraisal of a running peer
// (`wardgate attest b`: identity, credential activation, a fresh quote over
// HTTPS, appraisal, signed report, ledger append, admission), against the
// baseline of a bare `wardgate status` round trip on the same socket.
//
//	go test -run '^$' -bench AttestNow -benchtime 20x ./cmd/wardgated/
//
// (Keep -benchtime small: the attestation endpoints are rate limited to
// bound the TPM work unauthenticated callers can cause.)
func BenchmarkAttestNow(b *testing.B) {
	dir, _ := consortium(b, "a,b", "")
	a := startBox(b, dir, "a")
	bb := startBox(b, dir, "b")
	a.waitReady(b)
	bb.waitReady(b)
	eventually(b, "a admits b", func() (bool, string) { p := a.peer(b, "b"); return p.State == control.PeerAdmitted, string(p.State) })
	ctx := context.Background()

	b.Run("status-baseline", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := a.ctl.Status(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("attest", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			r, err := a.ctl.Attest(ctx, "b")
			if err != nil || r.Verdict != "pass" {
				b.Fatalf("%+v %v", r, err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/appraisal")
	})
}
