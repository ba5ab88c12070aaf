package tunnel

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// requireRoot skips loudly: these tests need CAP_NET_ADMIN for namespaces,
// veth and TUN. CI runs as root, so there they always run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: needs root for network namespaces, veth and /dev/net/tun (CI runs as root)")
	}
}

var nsSeq atomic.Int64

// nsPair is two fresh network namespaces joined by a veth pair
// (underlayA/underlayB), removed by t.Cleanup.
type nsPair struct {
	a, b                 string // names under /var/run/netns
	underlayA, underlayB netip.Addr
}

func (p nsPair) pathA() string { return "/var/run/netns/" + p.a }
func (p nsPair) pathB() string { return "/var/run/netns/" + p.b }

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newNSPair(t *testing.T) nsPair {
	t.Helper()
	n := nsSeq.Add(1)
	tag := fmt.Sprintf("wgt%d-%d", os.Getpid()%100000, n)
	p := nsPair{a: tag + "a", b: tag + "b",
		underlayA: netip.MustParseAddr("192.168.201.1"), underlayB: netip.MustParseAddr("192.168.201.2")}
	for _, ns := range []string{p.a, p.b} {
		run(t, "ip", "netns", "add", ns)
		ns := ns
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "va", "netns", p.a, "type", "veth", "peer", "name", "vb", "netns", p.b)
	run(t, "ip", "-n", p.a, "addr", "add", p.underlayA.String()+"/24", "dev", "va")
	run(t, "ip", "-n", p.b, "addr", "add", p.underlayB.String()+"/24", "dev", "vb")
	run(t, "ip", "-n", p.a, "link", "set", "va", "up")
	run(t, "ip", "-n", p.b, "link", "set", "vb", "up")
	return p
}

// pingOK reports whether one ICMP echo sent from inside the namespace at
// nsPath is answered by dst within a second.
func pingOK(t *testing.T, nsPath string, dst netip.Addr) bool {
	t.Helper()
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var c *icmp.PacketConn
	if err := inNetns(ns, func() error {
		var err error
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatalf("icmp socket: %v", err)
	}
	defer c.Close()
	id := int(nsSeq.Add(1) & 0xffff)
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("wardgate")}}
	b, _ := msg.Marshal(nil)
	if _, err := c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return false // e.g. no route to host
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && from.String() == dst.String() {
			return true
		}
	}
}

// nsHandle opens a netlink handle inside the named namespace, to inspect what
// the device installed there.
func nsHandle(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// ourRoutes lists the routes on link ("" for any link) that carry wardgate's route protocol.
func ourRoutes(t *testing.T, h *netlink.Handle, link string) []netip.Prefix {
	t.Helper()
	var l netlink.Link // nil: every link in the namespace
	if link != "" {
		var err error
		if l, err = h.LinkByName(link); err != nil {
			return nil
		}
	}
	rs, err := h.RouteList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("route list: %v", err)
	}
	var out []netip.Prefix
	for _, r := range rs {
		if r.Protocol != routeProtocol {
			continue
		}
		if p, ok := ipNetToPrefix(r.Dst); ok {
			out = append(out, p)
		}
	}
	return out
}

func linkAddrs(t *testing.T, h *netlink.Handle, link string) []netip.Prefix {
	t.Helper()
	l, err := h.LinkByName(link)
	if err != nil {
		return nil
	}
	as, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("addr list: %v", err)
	}
	var out []netip.Prefix
	for _, a := range as {
		if p, ok := ipNetToPrefix(a.IPNet); ok {
			out = append(out, p)
		}
	}
	return out
}

func sameSet(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
