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
	next   int
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
	tag := strconv.Itoa(os.Getpid() % 100000)
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
