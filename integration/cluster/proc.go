package cluster

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS is the resident memory of b's wardgated, from /proc: the mesh
// benchmark's measure of what one box holds.
func (b *Box) RSS() (uint64, error) {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0, fmt.Errorf("cluster: %s is not running", b.Name)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("cluster: %s: %w", b.Name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cluster: %s: VmRSS %q", b.Name, rest)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("cluster: %s: no VmRSS in /proc status", b.Name)
}

// KernelPath is b's kernel image file, measured at boot and, with runtime
// integrity on, at run time.
func (b *Box) KernelPath() string { return b.kernel }

// TamperRunning changes b's kernel image while b runs, as an attacker with
// write access to the disk would: the same change as Tamper, but its
// effect on a running box is the runtime measurement's business.
func (b *Box) TamperRunning() error { return b.Tamper() }
