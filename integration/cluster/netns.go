package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// netnsNet is the tun-mode underlay: one namespace per box, each joined by
// a veth to a bridge in the host namespace (which also holds the LAN sink
// and reaches every box's LAN listener at 10.99.0.x).
type netnsNet struct {
	tag    string
	bridge string
	ns     []string
	addr   []string
	veths  []string
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cluster: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newNetnsNet(ctx context.Context, boxes []string) (n *netnsNet, err error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("cluster: tun mode needs root (network namespaces, TUN devices)")
	}
	clearStale(ctx)
	tag := strconv.Itoa(os.Getpid()) // at most 7 digits: link names stay within 15 bytes
	n = &netnsNet{tag: tag, bridge: "wgbr" + tag}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if err := ipCmd(ctx, "link", "add", n.bridge, "type", "bridge"); err != nil {
		return nil, err
	}
	if err := ipCmd(ctx, "addr", "add", hostIP+"/24", "dev", n.bridge); err != nil {
		return nil, err
	}
	if err := ipCmd(ctx, "link", "set", n.bridge, "up"); err != nil {
		return nil, err
	}
	for i, b := range boxes {
		ns := "wg" + tag + "-" + b
		host, peer := fmt.Sprintf("wh%s%d", tag, i), fmt.Sprintf("wp%s%d", tag, i)
		addr := "10.99.0." + strconv.Itoa(i+1)
		n.ns = append(n.ns, ns)
		n.addr = append(n.addr, addr)
		steps := [][]string{
			{"netns", "add", ns},
			{"link", "add", host, "type", "veth", "peer", "name", peer},
			{"link", "set", host, "master", n.bridge},
			{"link", "set", host, "up"},
			{"link", "set", peer, "netns", ns},
			{"-n", ns, "link", "set", "lo", "up"},
			{"-n", ns, "addr", "add", addr + "/24", "dev", peer},
			{"-n", ns, "link", "set", peer, "up"},
		}
		for _, s := range steps {
			if err := ipCmd(ctx, s...); err != nil {
				return nil, err
			}
			if s[0] == "link" && s[1] == "add" {
				n.veths = append(n.veths, host)
			}
		}
	}
	return n, nil
}

// clearStale removes the namespaces and bridges of runs whose process is
// gone (a test binary killed on a timeout never runs its cleanup). Their
// bridges hold the same underlay subnet, and left in place they make the
// boxes of the next run unreachable.
func clearStale(ctx context.Context) {
	alive := func(tag string) bool {
		pid, err := strconv.Atoi(tag)
		if err != nil {
			return true // not ours
		}
		_, err = os.Stat("/proc/" + strconv.Itoa(pid))
		return err == nil
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			tag, _, ok := strings.Cut(strings.TrimPrefix(name, "wg"), "-")
			if ok && strings.HasPrefix(name, "wg") && !alive(tag) {
				ipCmd(ctx, "netns", "del", name)
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "ip", "-o", "link", "show", "type", "bridge").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name := strings.TrimSuffix(f[1], ":")
			if tag, ok := strings.CutPrefix(name, "wgbr"); ok && !alive(tag) {
				ipCmd(ctx, "link", "del", name) // its veths go with their namespaces
			}
		}
	}
}

func (n *netnsNet) close() {
	ctx := context.Background()
	for _, ns := range n.ns {
		ipCmd(ctx, "netns", "del", ns)
	}
	for _, v := range n.veths {
		ipCmd(ctx, "link", "del", v)
	}
	ipCmd(ctx, "link", "del", n.bridge)
}
