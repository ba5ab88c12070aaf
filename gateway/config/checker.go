package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardgate/wardgate/internal/names"
)

var (
	ekRE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	ifRE   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
	addrRE = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
)

func normEK(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checker collects the problems of one config; its helpers each check
// one kind of value and say, in the message, how to write it.
type checker struct{ errs Errors }

func (k *checker) add(path, format string, args ...any) {
	k.errs = append(k.errs, Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (k *checker) duration(path, s string, def time.Duration, min time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		k.add(path, "%q is not a duration; write e.g. 30s or 2m", s)
		return def
	}
	if d < min {
		k.add(path, "%s is too short; use at least %s", s, min)
	}
	return d
}

// hostPort checks host:port with a port 1..65535; empty host means all addresses.
func (k *checker) hostPort(path, s, example string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		k.add(path, "%q is not host:port; write e.g. %s", s, example)
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		k.add(path, "port %q in %q must be 1..65535; write e.g. %s", port, s, example)
		return false
	}
	if strings.ContainsAny(host, " /") {
		k.add(path, "host %q in %q is not a host name or IP; write e.g. %s", host, s, example)
		return false
	}
	return true
}

func (k *checker) port(path string, n int, example int) {
	if n < 1 || n > 65535 {
		k.add(path, "%d is not a port; use 1..65535, e.g. %d", n, example)
	}
}

func (k *checker) prefix(path, s, example string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		k.add(path, "%q is not a CIDR; write e.g. %s", s, example)
		return netip.Prefix{}, false
	}
	return p, true
}

func (k *checker) required(path, s, what string) bool {
	if strings.TrimSpace(s) == "" {
		k.add(path, "is required: %s", what)
		return false
	}
	return true
}

// oneOf checks that s is one of allowed; T is a config string type
// (tunnel.Mode, ChainMode...) or string.
func oneOf[T ~string](k *checker, path string, s T, allowed ...T) bool {
	if slices.Contains(allowed, s) {
		return true
	}
	list := make([]string, len(allowed))
	for i, a := range allowed {
		list[i] = string(a)
	}
	if s == "" {
		k.add(path, "is required: one of %s", strings.Join(list, ", "))
	} else {
		k.add(path, "%q is not one of %s", s, strings.Join(list, ", "))
	}
	return false
}

// boxName checks a box name by the one rule every package uses.
func (k *checker) boxName(path, s string) bool {
	if err := names.Check(s); err != nil {
		k.add(path, "%s", err)
		return false
	}
	return true
}

func (k *checker) listLen(path string, n int) {
	if n > maxListLen {
		k.add(path, "has %d entries; at most %d are allowed", n, maxListLen)
	}
}
