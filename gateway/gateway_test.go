package gateway_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/testutil"
)

// TestAdmit: a admits b only on passing evidence. While b boots a kernel
// the manifest does not approve, a refuses it with the reason and a record
// for b is refused before it reaches the tunnel. Reinstalled with the
// approved image (fresh state, same TPM), b is admitted both ways and a
// record crosses the tunnel to b's hospital system.
func TestAdmit(t *testing.T) {
	c := newConsortium(t, []string{"a", "b"}, "b")
	a, b := c.boxes["a"], c.boxes["b"]
	a.start(t)
	b.start(t)

	p := a.waitPeer(t, "b", "refused as unapproved", func(p control.PeerInfo) bool {
		return p.Verdict == control.VerdictFail && hasReason(p.Reasons, attest.ReasonComponentUnapproved)
	})
	if p.State == control.PeerAdmitted {
		t.Fatalf("a admitted b on failing evidence: %+v", p)
	}
	rec := []byte(`{"resourceType":"Patient","id":"admit-1"}`)
	if code, refusal, err := a.send("b", rec); err != nil || code != http.StatusForbidden || refusal != "not_admitted" {
		t.Errorf("record to refused b: %d %q %v, want 403 not_admitted", code, refusal, err)
	}

	b.stop()
	b.setKernel(t, true)
	if err := os.RemoveAll(b.state); err != nil { // its keys were sealed to the unapproved boot
		t.Fatal(err)
	}
	b.start(t)
	a.waitPeer(t, "b", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
	b.waitPeer(t, "a", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
	// The first send may meet the tunnel's first handshake still
	// outstanding (502); a resend of the same body is idempotent.
	testutil.WaitFor(t, "record a->b accepted", func() bool {
		code, _, err := a.send("b", rec)
		return err == nil && code == http.StatusOK
	})
	select {
	case got := <-b.sink:
		if !bytes.Equal(got, rec) {
			t.Errorf("b delivered %q, want %q", got, rec)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b's hospital system never received the record")
	}
}

// TestRevoke: a admitted b; b reboots with a tampered kernel, and a
// removes it from the tunnel as revoked, with the named reason, a signed
// failing report, and records to b refused.
func TestRevoke(t *testing.T) {
	c := newConsortium(t, []string{"a", "b"})
	a, b := c.boxes["a"], c.boxes["b"]
	a.start(t)
	b.start(t)
	a.waitPeer(t, "b", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })
	testutil.WaitFor(t, "record a->b accepted", func() bool {
		code, _, err := a.send("b", []byte("before tamper"))
		return err == nil && code == http.StatusOK
	})

	b.stop()
	b.setKernel(t, false)
	b.start(t)
	p := a.waitPeer(t, "b", "revoked", func(p control.PeerInfo) bool { return p.State == control.PeerRevoked })
	if p.Verdict != control.VerdictFail || !hasReason(p.Reasons, attest.ReasonComponentUnapproved) {
		t.Errorf("b revoked without the reason: %+v", p)
	}
	if code, refusal, err := a.send("b", []byte("after tamper")); err != nil || code != http.StatusForbidden || refusal != "not_admitted" {
		t.Errorf("record to revoked b: %d %q %v, want 403 not_admitted", code, refusal, err)
	}
	reps, err := a.g.Reports(context.Background(), control.ReportFilter{Peer: "b", Verdict: control.VerdictFail})
	if err != nil || len(reps) == 0 {
		t.Errorf("no failing report on tampered b: %v %v", reps, err)
	}
}

// TestRevokeOnExpiry: a admitted b; b freezes (its attestation port
// still accepts connections, as a SIGSTOPped process's does, but nothing
// answers). a shows b as unreachable, with since when and why, not as an
// expired pass; when b's verdict runs out a revokes it, says so, and
// refuses records for it.
func TestRevokeOnExpiry(t *testing.T) {
	c := newConsortium(t, []string{"a", "b"})
	a, b := c.boxes["a"], c.boxes["b"]
	// Long enough for a round against the frozen b to time out (3 s TLS
	// handshake) well before b's verdict runs out, as with real intervals.
	a.editConfig(t, func(cfg *config.Config) { cfg.Attestation.VerdictLifetime = "8s" })
	a.start(t)
	b.start(t)
	a.waitPeer(t, "b", "admitted", func(p control.PeerInfo) bool { return p.State == control.PeerAdmitted })

	b.stop()
	freeze(t, b)
	p := a.waitPeer(t, "b", "unreachable", func(p control.PeerInfo) bool { return hasReason(p.Reasons, "unreachable") })
	if p.State != control.PeerAdmitted || p.UnreachableSince.IsZero() || !strings.Contains(reason(p.Reasons, "unreachable"), "still admitted until") {
		t.Errorf("b unreachable before expiry: want still admitted, with since when and why: %+v", p)
	}
	p = a.waitPeer(t, "b", "revoked at expiry", func(p control.PeerInfo) bool {
		return p.State == control.PeerUnreachable && strings.Contains(reason(p.Reasons, "unreachable"), "revoked")
	})
	if msg := reason(p.Reasons, "unreachable"); !strings.Contains(msg, "no answer since") {
		t.Errorf("unreachable reason %q does not say since when", msg)
	}
	if code, refusal, err := a.send("b", []byte("after expiry")); err != nil || code != http.StatusForbidden || refusal != "not_admitted" {
		t.Errorf("record to expired b: %d %q %v, want 403 not_admitted", code, refusal, err)
	}
	if log := a.log.tail(400); !strings.Contains(log, "peer unreachable") || !strings.Contains(log, "has not answered since") {
		t.Errorf("a's log does not report b unreachable and revoked for it:\n%s", a.log.tail(20))
	}
}

// freeze holds b's attestation address as a frozen process would: the
// kernel accepts connections, nothing reads or answers them.
func freeze(t *testing.T, b *box) {
	t.Helper()
	cfg, err := config.LoadPartial(b.path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Attestation.Listen)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
}

func reason(rs []control.Reason, code string) string {
	for _, r := range rs {
		if r.Code == code {
			return r.Message
		}
	}
	return ""
}

// TestQuarantine: a box whose sealed keys do not unseal (its boot state
// changed) still starts, on ephemeral keys, reports quarantine with the
// reason, relays nothing and leaves the sealed keys alone; booting the
// approved image again brings the sealed record key back.
func TestQuarantine(t *testing.T) {
	c := newConsortium(t, []string{"a", "b"})
	a := c.boxes["a"]
	a.start(t)
	if st := a.status(t); !st.SelfCheck.Pass {
		t.Fatalf("a's first self-check failed: %+v", st.SelfCheck)
	}
	key := a.recordKey(t)
	sealedPath := filepath.Join(a.state, "record-key.sealed")
	sealed, err := os.ReadFile(sealedPath)
	if err != nil {
		t.Fatal(err)
	}
	if !dialable(a.lan) {
		t.Fatal("a's LAN intake is closed before quarantine")
	}

	a.stop()
	a.setKernel(t, false)
	a.start(t)
	st := a.status(t)
	if st.SelfCheck.Pass || !hasReason(st.SelfCheck.Reasons, "keys-sealed-to-other-state") {
		t.Fatalf("quarantined a's self-check: %+v", st.SelfCheck)
	}
	for _, r := range st.SelfCheck.Reasons {
		if r.Code == "keys-sealed-to-other-state" && !strings.Contains(r.Message, sealedPath) {
			t.Errorf("quarantine reason does not name the sealed key: %q", r.Message)
		}
	}
	if k := a.recordKey(t); k == key {
		t.Error("quarantined a signs with its sealed record key")
	}
	if dialable(a.lan) {
		t.Error("quarantined a accepts records on its LAN intake")
	}
	if now, _ := os.ReadFile(sealedPath); !bytes.Equal(now, sealed) {
		t.Error("quarantine rewrote the sealed record key")
	}
	if fi, err := os.Stat(filepath.Join(a.state, "quarantine")); err != nil || !fi.IsDir() {
		t.Errorf("no quarantine data directory: %v", err)
	}

	a.stop()
	a.setKernel(t, true)
	a.start(t)
	if st := a.status(t); !st.SelfCheck.Pass {
		t.Errorf("a back on approved firmware, self-check: %+v", st.SelfCheck)
	}
	if k := a.recordKey(t); k != key {
		t.Error("a back on approved firmware does not sign with its sealed record key")
	}
}
