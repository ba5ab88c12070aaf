package tunnel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// routeProtocol marks the routes wardgate installs, so that they can be told
// apart from routes an operator added by hand ("proto 0x57" in `ip route`).
const routeProtocol = netlink.RouteProtocol(0x57)

// inNetns runs fn on a fresh OS thread switched into ns, so that the sockets
// and TUN fds fn creates belong to ns. The thread is discarded if it cannot
// be switched back.
func inNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("tunnel: current netns: %w", err)
			return // thread stays locked and is destroyed
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("tunnel: enter netns: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("tunnel: leave netns: %w", err))
			return // never hand a thread in the wrong netns back to the runtime
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// callerNetns returns the calling thread's network namespace if a caller
// locked its thread into one other than the process's, so that later work on
// other threads still lands there; otherwise netns.None(), and no setns (which
// would need CAP_SYS_ADMIN) is ever done.
func callerNetns() netns.NsHandle {
	cur, err := netns.Get() // this thread's
	if err != nil {
		return netns.None()
	}
	proc, err := netns.GetFromPath("/proc/self/ns/net") // the main thread's
	if err != nil {
		cur.Close()
		return netns.None()
	}
	defer proc.Close()
	if cur.Equal(proc) {
		cur.Close()
		return netns.None()
	}
	return cur
}

// kernelLink configures the TUN interface with netlink: address, MTU, up,
// and one route per admitted allowed IP.
type kernelLink struct {
	h     *netlink.Handle
	name  string
	index int
	addr  netip.Prefix
}

func openKernelLink(ns netns.NsHandle, name string, addr netip.Prefix, mtu int) (*kernelLink, error) {
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns)
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("tunnel: netlink: %w", err)
	}
	link, err := h.LinkByName(name)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("tunnel: netlink: find %s: %w", name, err)
	}
	kl := &kernelLink{h: h, name: name, index: link.Attrs().Index, addr: addr}
	// Replace, never add: a restarted daemon finds its own state and must
	// converge to the configured one instead of failing with EEXIST.
	if err := h.LinkSetMTU(link, mtu); err != nil {
		kl.close()
		return nil, fmt.Errorf("tunnel: netlink: set MTU %d on %s: %w", mtu, name, err)
	}
	if err := h.AddrReplace(link, &netlink.Addr{IPNet: prefixToIPNet(addr)}); err != nil {
		kl.close()
		return nil, fmt.Errorf("tunnel: netlink: address %s on %s: %w", addr, name, err)
	}
	if err := kl.removeStaleAddrs(link); err != nil {
		kl.close()
		return nil, err
	}
	if err := h.LinkSetUp(link); err != nil {
		kl.close()
		return nil, fmt.Errorf("tunnel: netlink: set %s up: %w", name, err)
	}
	return kl, nil
}

// removeStaleAddrs drops addresses a previous run with another Address left.
func (kl *kernelLink) removeStaleAddrs(link netlink.Link) error {
	addrs, err := kl.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("tunnel: netlink: list addresses on %s: %w", kl.name, err)
	}
	for _, a := range addrs {
		p, ok := ipNetToPrefix(a.IPNet)
		if !ok || p == kl.addr || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if err := kl.h.AddrDel(link, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("tunnel: netlink: remove stale address %s from %s: %w", p, kl.name, err)
		}
	}
	return nil
}

func (kl *kernelLink) route(p netip.Prefix) *netlink.Route {
	return &netlink.Route{
		LinkIndex: kl.index,
		Dst:       prefixToIPNet(p.Masked()),
		Scope:     netlink.SCOPE_LINK,
		Protocol:  routeProtocol,
	}
}

func (kl *kernelLink) addRoutes(ps []netip.Prefix) error {
	for _, p := range ps {
		if err := kl.h.RouteReplace(kl.route(p)); err != nil {
			return fmt.Errorf("tunnel: netlink: route %s dev %s: %w", p, kl.name, err)
		}
	}
	return nil
}

func (kl *kernelLink) delRoutes(ps []netip.Prefix) error {
	var errs []error
	for _, p := range ps {
		err := kl.h.RouteDel(kl.route(p))
		if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("tunnel: netlink: remove route %s dev %s: %w", p, kl.name, err))
		}
	}
	return errors.Join(errs...)
}

// teardown removes what openKernelLink and addRoutes installed; the link
// itself disappears when the TUN fd is closed.
func (kl *kernelLink) teardown(routes []netip.Prefix) error {
	err := kl.delRoutes(routes)
	if link, lerr := kl.h.LinkByIndex(kl.index); lerr == nil {
		if aerr := kl.h.AddrDel(link, &netlink.Addr{IPNet: prefixToIPNet(kl.addr)}); aerr != nil && !errors.Is(aerr, unix.EADDRNOTAVAIL) {
			err = errors.Join(err, fmt.Errorf("tunnel: netlink: remove address %s: %w", kl.addr, aerr))
		}
		if derr := kl.h.LinkSetDown(link); derr != nil {
			err = errors.Join(err, fmt.Errorf("tunnel: netlink: set %s down: %w", kl.name, derr))
		}
	}
	return err
}

func (kl *kernelLink) close() { kl.h.Close() }

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func ipNetToPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
