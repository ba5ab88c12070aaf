package tunnel

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
)

// TestUserspaceTrafficFollowsVerdicts runs two netstack devices over loopback
// UDP: bytes pass only once both sides admitted the other from a passing
// verdict, and stop after a revoke and after an unrenewed verdict expires.
// echoPair is two userspace boxes, neither admitting the other yet, with an
// echo server on b's tunnel address; toB is its address.
func echoPair(t *testing.T, f *attesttest.Fixture) (a, b *box, toB string) {
	t.Helper()
	a = newUserspaceBox(t, f, "hosp-a", netip.MustParseAddr("10.66.0.1"))
	b = newUserspaceBox(t, f, "hosp-b", netip.MustParseAddr("10.66.0.2"))
	ln, err := b.dev.Listen("tcp", ":7000")
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, ln)
	return a, b, netip.AddrPortFrom(b.addr, 7000).String()
}

func TestUserspaceTrafficFollowsVerdicts(t *testing.T) {
	f := attesttest.New(t)
	a, b, toB := echoPair(t, f)
	const probe = 1500 * time.Millisecond

	if err := roundTrip(a.dev, toB, probe); err == nil {
		t.Fatal("traffic passed with no peer admitted")
	}

	// Only A admits B: B still drops A's handshake.
	if err := a.dev.Admit(f.Pass(t, b.name, b.dev.PublicKey(), recordKey(t), time.Minute), b.cfg); err != nil {
		t.Fatalf("A admits B: %v", err)
	}
	a.ch.wait(t, b.name, StateAdmitted, time.Second)
	if err := roundTrip(a.dev, toB, probe); err == nil {
		t.Fatal("traffic passed while only one side had admitted")
	}

	vA := f.Pass(t, a.name, a.dev.PublicKey(), recordKey(t), time.Minute)
	if err := b.dev.Admit(vA, a.cfg); err != nil {
		t.Fatalf("B admits A: %v", err)
	}
	// The handshake starts at admission, before any traffic, and no
	// keepalives are left configured (Config.Keepalive is 0).
	testutil.WaitForWithin(t, 10*time.Second, "a handshake after both sides admitted",
		func() bool { return !findStatus(t, a.dev, b.name).LastHandshake.IsZero() })
	if st, _ := b.dev.ipcState(); st.peers[a.dev.PublicKey()].keepalive != 0 {
		t.Fatalf("persistent keepalive left at %d", st.peers[a.dev.PublicKey()].keepalive)
	}
	if err := roundTrip(a.dev, toB, 10*time.Second); err != nil {
		t.Fatalf("no traffic after both sides admitted: %v", err)
	}
	st := findStatus(t, b.dev, a.name)
	if st.State != StateAdmitted || st.LastHandshake.IsZero() || st.RxBytes == 0 || st.TxBytes == 0 ||
		!st.Expiry.Equal(vA.Expiry()) || st.PublicKey != a.dev.PublicKey() || st.ReportID != vA.ReportID() {
		t.Fatalf("status after traffic: %+v", st)
	}
	if !st.Endpoint.Addr().IsLoopback() || st.Endpoint.Port() != uint16(a.dev.ListenPort()) {
		t.Fatalf("status endpoint %s, want 127.0.0.1:%d", st.Endpoint, a.dev.ListenPort())
	}

	// A long-lived connection dies with the revocation, and so do new ones.
	conn, err := a.dev.DialContext(t.Context(), "tcp", toB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := echo(conn, []byte("before revoke"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.dev.Revoke(a.name, "operator revoked hosp-a"); err != nil {
		t.Fatal(err)
	}
	if s := b.ch.wait(t, a.name, StateRevoked, time.Second); s.Reason != "operator revoked hosp-a" {
		t.Fatalf("revoke notification reason %q", s.Reason)
	}
	if err := echo(conn, []byte("after revoke"), probe); err == nil {
		t.Fatal("open connection still carried bytes after revoke")
	}
	if err := roundTrip(a.dev, toB, probe); err == nil {
		t.Fatal("new connection passed after revoke")
	}
	if err := b.dev.Revoke(a.name, "again"); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if st := findStatus(t, b.dev, a.name); st.Reason != "operator revoked hosp-a" {
		t.Fatalf("second revoke changed the reason to %q", st.Reason)
	}
	if err := b.dev.Revoke("hosp-x", "typo"); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("revoke of an unknown peer: %v", err)
	}

	// Re-admitted with a short verdict that is not renewed: traffic flows,
	// then stops at expiry.
	short := f.Pass(t, a.name, a.dev.PublicKey(), recordKey(t), 3*time.Second)
	if err := b.dev.Admit(short, a.cfg); err != nil {
		t.Fatalf("re-admit: %v", err)
	}
	if err := roundTrip(a.dev, toB, 10*time.Second); err != nil {
		t.Fatalf("no traffic after re-admission: %v", err)
	}
	s := b.ch.wait(t, a.name, StateExpired, time.Until(short.Expiry())+2*time.Second)
	if time.Now().Before(short.Expiry()) {
		t.Fatalf("peer expired before its verdict did (%s)", short.Expiry())
	}
	if s.Reason == "" {
		t.Fatal("expired peer has no reason")
	}
	if err := roundTrip(a.dev, toB, probe); err == nil {
		t.Fatal("traffic passed after the verdict expired")
	}
	if st := findStatus(t, b.dev, a.name); st.State != StateExpired {
		t.Fatalf("status after expiry: %+v", st)
	}
}

func newUserspaceBox(t *testing.T, f *attesttest.Fixture, name string, addr netip.Addr) *box {
	t.Helper()
	ch := newChanges()
	d, err := New(context.Background(), Config{
		Name: name, Mode: ModeUserspace, Address: netip.PrefixFrom(addr, 32),
		StateDir: t.TempDir(), Sealer: f.TPM(), Logger: testutil.EnvLogger().With("test_box", name), OnChange: ch.fn,
	})
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() { d.Close() })
	return &box{name: name, dev: d, addr: addr, ch: ch, cfg: PeerConfig{
		Name: name, PublicKey: d.PublicKey(),
		Endpoint:   netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(d.ListenPort())),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(addr, 32)},
	}}
}

func findStatus(t *testing.T, d *Device, name string) PeerStatus {
	t.Helper()
	for _, s := range d.Status() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for %s", name)
	return PeerStatus{}
}

// wgHasPeer reports whether wireguard-go itself has the key configured.
func wgHasPeer(t *testing.T, d *Device, key [32]byte) bool {
	t.Helper()
	st, err := d.ipcState()
	if err != nil {
		t.Fatal(err)
	}
	_, ok := st.peers[key]
	return ok
}

// TestAdmitRefusals checks every way admission is refused, and that a
// refusal for an admitted peer removes it at once.
func TestAdmitRefusals(t *testing.T) {
	f := attesttest.New(t)
	a := newUserspaceBox(t, f, "hosp-a", netip.MustParseAddr("10.67.0.1"))
	b := newUserspaceBox(t, f, "hosp-b", netip.MustParseAddr("10.67.0.2"))
	c := newUserspaceBox(t, f, "hosp-c", netip.MustParseAddr("10.67.0.3"))
	bKey := b.dev.PublicKey()

	for _, tc := range []struct {
		name string
		err  error
		run  func() error
	}{
		{"nil verdict", ErrNoVerdict, func() error { return a.dev.Admit(nil, b.cfg) }},
		{"failing verdict", ErrVerdictFailed, func() error { return a.dev.Admit(f.Fail(t, b.name, bKey, recordKey(t)), b.cfg) }},
		{"key of another box", ErrKeyMismatch, func() error {
			return a.dev.Admit(f.Pass(t, b.name, c.dev.PublicKey(), recordKey(t), time.Minute), b.cfg)
		}},
		{"verdict for another peer", ErrPeerMismatch, func() error {
			return a.dev.Admit(f.Pass(t, c.name, bKey, recordKey(t), time.Minute), b.cfg)
		}},
	} {
		err := tc.run()
		if !errors.Is(err, tc.err) || !errors.Is(err, ErrRefused) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.err)
		}
		if wgHasPeer(t, a.dev, bKey) {
			t.Fatalf("%s: peer configured in WireGuard despite refusal", tc.name)
		}
	}
	if st := findStatus(t, a.dev, b.name); st.State != StateNeverAdmitted || st.Reason == "" {
		t.Fatalf("status after refusals: %+v", st)
	}

	// Expired before it is presented.
	old := f.Pass(t, b.name, bKey, recordKey(t), 500*time.Millisecond)
	time.Sleep(time.Until(old.Expiry()) + 50*time.Millisecond)
	if err := a.dev.Admit(old, b.cfg); !errors.Is(err, ErrVerdictExpired) {
		t.Fatalf("expired verdict: %v", err)
	}

	// Bad enrollment config is refused by name before any verdict check.
	bad := b.cfg
	bad.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.67.0.2/24")}
	if err := a.dev.Admit(f.Pass(t, b.name, bKey, recordKey(t), time.Minute), bad); err == nil {
		t.Fatal("prefix with host bits accepted")
	}

	// Renewal: a newer verdict before expiry keeps the peer past the first
	// verdict's expiry; an older one is ignored.
	v1 := f.Pass(t, b.name, bKey, recordKey(t), 2*time.Second)
	if err := a.dev.Admit(v1, b.cfg); err != nil {
		t.Fatal(err)
	}
	v2 := f.Pass(t, b.name, bKey, recordKey(t), time.Minute)
	if err := a.dev.Admit(v2, b.cfg); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	if err := a.dev.Admit(v1, b.cfg); !errors.Is(err, ErrStaleVerdict) {
		t.Fatalf("older verdict after renewal: %v", err)
	}
	time.Sleep(time.Until(v1.Expiry()) + 300*time.Millisecond)
	if st := findStatus(t, a.dev, b.name); st.State != StateAdmitted || !st.Expiry.Equal(v2.Expiry()) || !wgHasPeer(t, a.dev, bKey) {
		t.Fatalf("renewed peer after first expiry: %+v", st)
	}

	// Another peer may not take B's addresses.
	steal := c.cfg
	steal.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.67.0.0/24")}
	if err := a.dev.Admit(f.Pass(t, c.name, c.dev.PublicKey(), recordKey(t), time.Minute), steal); !errors.Is(err, ErrIPConflict) {
		t.Fatalf("overlapping allowed IPs: %v", err)
	}

	// Nor may another name be admitted with B's key.
	alias := b.cfg
	alias.Name, alias.AllowedIPs = "hosp-b2", []netip.Prefix{netip.MustParsePrefix("10.67.1.0/24")}
	if err := a.dev.Admit(f.Pass(t, "hosp-b2", bKey, recordKey(t), time.Minute), alias); !errors.Is(err, ErrKeyInUse) {
		t.Fatalf("same key under another name: %v", err)
	}

	// A failing re-appraisal removes the admitted peer at once.
	err := a.dev.Admit(f.Fail(t, b.name, bKey, recordKey(t)), b.cfg)
	if !errors.Is(err, ErrVerdictFailed) {
		t.Fatalf("failing re-appraisal: %v", err)
	}
	a.ch.wait(t, b.name, StateRevoked, time.Second)
	if wgHasPeer(t, a.dev, bKey) {
		t.Fatal("peer still in WireGuard after failing verdict")
	}
	if st := findStatus(t, a.dev, b.name); st.State != StateRevoked || st.Reason == "" {
		t.Fatalf("status after failing verdict: %+v", st)
	}
}

// Two boxes that admit each other in the same instant (as mutual
// attestation makes them) carry traffic at once. With both starting a
// handshake, the two initiations crossed, each side was left a responder
// waiting for the other, and nothing passed until a retry 5 s later: about
// one start in twelve.
func TestSimultaneousAdmission(t *testing.T) {
	f := attesttest.New(t)
	for round := range 30 {
		a, b, toB := echoPair(t, f)
		vA := f.Pass(t, a.name, a.dev.PublicKey(), recordKey(t), time.Minute)
		vB := f.Pass(t, b.name, b.dev.PublicKey(), recordKey(t), time.Minute)
		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() { <-start; errs <- a.dev.Admit(vB, b.cfg) }()
		go func() { <-start; errs <- b.dev.Admit(vA, a.cfg) }()
		close(start)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Now()
		if err := roundTrip(a.dev, toB, 3*time.Second); err != nil {
			t.Fatalf("round %d: no traffic %v after both admitted at once: %v", round, time.Since(t0).Round(time.Millisecond), err)
		}
		a.dev.Close()
		b.dev.Close()
	}
}
