package tunnel

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/internal/testutil"
)

// TestTUNNamespaces runs each box in its own network namespace with its own
// kernel TUN, joined by veth: ping and a TCP stream pass only once both admit,
// and the addresses and routes netlink installed are gone after revoke, after
// an unrenewed verdict expires, and after Close.
func TestTUNNamespaces(t *testing.T) {
	requireRoot(t)
	f := attesttest.New(t)
	p := newNSPair(t)
	ctx := context.Background()
	const port = 51820
	addrA, addrB := netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
	lanB := netip.MustParsePrefix("10.88.2.0/24") // a hospital LAN behind B

	mk := func(name, ifname, nsPath string, addr netip.Addr, stateDir string) *Device {
		d, err := New(ctx, Config{Name: name, Mode: ModeTUN, Interface: ifname, ListenPort: port,
			Address: netip.PrefixFrom(addr, 32), MTU: 1400, StateDir: stateDir, Sealer: f.TPM(),
			Logger: testutil.EnvLogger().With("test_box", name), Netns: nsPath})
		if err != nil {
			t.Fatalf("New(%s): %v", name, err)
		}
		return d
	}
	stateA := t.TempDir()
	a := mk("hosp-a", "wgta", p.pathA(), addrA, stateA)
	b := mk("hosp-b", "wgtb", p.pathB(), addrB, t.TempDir())
	defer b.Close()
	hA, hB := nsHandle(t, p.pathA()), nsHandle(t, p.pathB())

	// netlink configured address, MTU and up; no peer routes yet.
	la, err := hA.LinkByName("wgta")
	if err != nil {
		t.Fatalf("TUN not in namespace A: %v", err)
	}
	if la.Attrs().MTU != 1400 || la.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("link mtu=%d flags=%v, want 1400 and up", la.Attrs().MTU, la.Attrs().Flags)
	}
	if got := linkAddrs(t, hA, "wgta"); !slices.Equal(got, []netip.Prefix{netip.PrefixFrom(addrA, 32)}) {
		t.Fatalf("addresses on wgta: %v", got)
	}
	if got := ourRoutes(t, hA, "wgta"); len(got) != 0 {
		t.Fatalf("routes before admission: %v", got)
	}
	if pingOK(t, p.pathA(), addrB) {
		t.Fatal("ping passed before admission")
	}

	peerA := PeerConfig{Name: "hosp-a", PublicKey: a.PublicKey(), Endpoint: netip.AddrPortFrom(p.underlayA, port),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(addrA, 32)}}
	peerB := PeerConfig{Name: "hosp-b", PublicKey: b.PublicKey(), Endpoint: netip.AddrPortFrom(p.underlayB, port),
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(addrB, 32), lanB}}
	if err := a.Admit(f.Pass(t, "hosp-b", b.PublicKey(), recordKey(t), time.Minute), peerB); err != nil {
		t.Fatal(err)
	}
	if got := ourRoutes(t, hA, "wgta"); !sameSet(got, peerB.AllowedIPs) {
		t.Fatalf("routes on A after admitting B: %v, want %v", got, peerB.AllowedIPs)
	}
	if pingOK(t, p.pathA(), addrB) {
		t.Fatal("ping passed while only A had admitted")
	}
	if err := b.Admit(f.Pass(t, "hosp-a", a.PublicKey(), recordKey(t), time.Minute), peerA); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForWithin(t, 10*time.Second, "a ping through the tunnel after both sides admitted",
		func() bool { return pingOK(t, p.pathA(), addrB) })

	// A TCP stream: 4 MiB from A to B through the kernel TUNs, checked end to end.
	ln, err := b.Listen("tcp", ":7001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sums := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(sums)
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c)
		sums <- [32]byte(h.Sum(nil))
	}()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := a.DialContext(dctx, "tcp", netip.AddrPortFrom(addrB, 7001).String())
	if err != nil {
		t.Fatalf("dial through tunnel: %v", err)
	}
	payload := make([]byte, 4<<20)
	rand.Read(payload)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case got := <-sums:
		if got != sha256.Sum256(payload) {
			t.Fatal("stream corrupted through the tunnel")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stream did not arrive")
	}
	if st := findStatus(t, a, "hosp-b"); st.TxBytes < 4<<20 || st.LastHandshake.IsZero() {
		t.Fatalf("status after stream: %+v", st)
	}

	// Revoke: routes go at once, traffic stops.
	if err := a.Revoke("hosp-b", "test"); err != nil {
		t.Fatal(err)
	}
	if got := ourRoutes(t, hA, "wgta"); len(got) != 0 {
		t.Fatalf("routes after revoke: %v", got)
	}
	if pingOK(t, p.pathA(), addrB) {
		t.Fatal("ping passed after revoke")
	}
	if st := findStatus(t, a, "hosp-b"); st.State != StateRevoked || st.Reason != "test" {
		t.Fatalf("status after revoke: %+v", st)
	}
	// B still has A: its route stays until B decides otherwise.
	if got := ourRoutes(t, hB, "wgtb"); !sameSet(got, peerA.AllowedIPs) {
		t.Fatalf("routes on B: %v", got)
	}

	// Restart on the same state dir: same key (unsealed), same config,
	// converges instead of failing on existing state.
	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := hA.LinkByName("wgta"); err == nil {
		t.Fatal("TUN still present after Close")
	}
	a2 := mk("hosp-a", "wgta", p.pathA(), addrA, stateA)
	if a2.PublicKey() != a.PublicKey() {
		t.Fatal("restart produced a different WireGuard key")
	}
	short := f.Pass(t, "hosp-b", b.PublicKey(), recordKey(t), 4*time.Second)
	if err := a2.Admit(short, peerB); err != nil {
		t.Fatal(err)
	}
	testutil.WaitForWithin(t, 10*time.Second, "a ping after restart and re-admission",
		func() bool { return pingOK(t, p.pathA(), addrB) })
	// The verdict is not renewed: at its expiry the routes go and traffic stops.
	testutil.WaitForWithin(t, time.Until(short.Expiry())+3*time.Second, "peer hosp-b to expire",
		func() bool { return findStatus(t, a2, "hosp-b").State == StateExpired })
	if time.Now().Before(short.Expiry()) {
		t.Fatal("expired before the verdict did")
	}
	if got := ourRoutes(t, hA, "wgta"); len(got) != 0 {
		t.Fatalf("routes after expiry: %v", got)
	}
	if pingOK(t, p.pathA(), addrB) {
		t.Fatal("ping passed after the verdict expired")
	}
	if err := a2.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := hA.LinkByName("wgta"); err == nil {
		t.Fatal("TUN still present after Close")
	}
	if got := ourRoutes(t, hA, ""); len(got) != 0 {
		t.Fatalf("routes left after Close: %v", got)
	}
}

// TestTUNPersistentInterface covers a restart that finds the interface
// already there (an operator-made persistent TUN with a stale address): New
// replaces rather than failing, and Close removes what it installed.
func TestTUNPersistentInterface(t *testing.T) {
	requireRoot(t)
	f := attesttest.New(t)
	p := newNSPair(t)
	run(t, "ip", "-n", p.a, "tuntap", "add", "dev", "wgtp", "mode", "tun", "vnet_hdr")
	run(t, "ip", "-n", p.a, "addr", "add", "10.79.0.1/32", "dev", "wgtp")
	run(t, "ip", "-n", p.a, "addr", "add", "10.99.9.9/32", "dev", "wgtp")
	h := nsHandle(t, p.pathA())
	d, err := New(context.Background(), Config{Name: "hosp-a", Mode: ModeTUN, Interface: "wgtp",
		Address: netip.MustParsePrefix("10.79.0.1/32"), StateDir: t.TempDir(), Sealer: f.TPM(),
		Logger: testutil.EnvLogger(), Netns: p.pathA()})
	if err != nil {
		t.Fatalf("New over an existing interface: %v", err)
	}
	if got := linkAddrs(t, h, "wgtp"); !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("10.79.0.1/32")}) {
		t.Fatalf("addresses: %v, want only 10.79.0.1/32", got)
	}
	// An operator's route for the same prefix is replaced, not an EEXIST.
	run(t, "ip", "-n", p.a, "route", "add", "10.79.0.2/32", "dev", "wgtp")
	key := [32]byte{1, 2, 3}
	peer := PeerConfig{Name: "hosp-b", PublicKey: key, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.79.0.2/32")}}
	if err := d.Admit(f.Pass(t, "hosp-b", key, recordKey(t), time.Minute), peer); err != nil {
		t.Fatalf("admit with an existing route: %v", err)
	}
	if got := ourRoutes(t, h, "wgtp"); !sameSet(got, peer.AllowedIPs) {
		t.Fatalf("routes: %v", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := linkAddrs(t, h, "wgtp"); len(got) != 0 {
		t.Fatalf("addresses left after Close: %v", got)
	}
	if got := ourRoutes(t, h, ""); len(got) != 0 {
		t.Fatalf("routes left after Close: %v", got)
	}
}

// TestTUNCallerThreadNetns: a caller that locked its thread into a namespace
// and calls New without Config.Netns gets the TUN, address and later routes
// in that namespace, even though Admit runs on another thread.
func TestTUNCallerThreadNetns(t *testing.T) {
	requireRoot(t)
	f := attesttest.New(t)
	p := newNSPair(t)
	target, err := netns.GetFromPath(p.pathA())
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	var d *Device
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is discarded
		if err := netns.Set(target); err != nil {
			done <- err
			return
		}
		var err error
		d, err = New(context.Background(), Config{Name: "hosp-a", Mode: ModeTUN, Interface: "wgtc",
			Address: netip.MustParsePrefix("10.78.0.1/32"), StateDir: t.TempDir(), Sealer: f.TPM(), Logger: testutil.EnvLogger()})
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	key := [32]byte{7}
	peer := PeerConfig{Name: "hosp-b", PublicKey: key, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.78.0.2/32")}}
	if err := d.Admit(f.Pass(t, "hosp-b", key, recordKey(t), time.Minute), peer); err != nil {
		t.Fatal(err)
	}
	h := nsHandle(t, p.pathA())
	if got := ourRoutes(t, h, "wgtc"); !sameSet(got, peer.AllowedIPs) {
		t.Fatalf("routes in the caller's namespace: %v", got)
	}
	if _, err := netlink.LinkByName("wgtc"); err == nil {
		t.Fatal("TUN created in the test process's namespace")
	}
}
