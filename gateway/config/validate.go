package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/internal/names"
)

// Error is one problem in the config: the key path and what is wrong,
// with the fix.
type Error struct {
	Path string
	Line int // 0 when unknown
	Msg  string
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// Errors is every problem found in one file.
type Errors []Error

func (es Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config has %d error(s):", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Defaults applied by validation.
const (
	DefaultInterface    = "wg-wardgate"
	DefaultMTU          = 1420
	DefaultInterval     = 30 * time.Second
	DefaultNonceTTL     = 30 * time.Second
	DefaultSocket       = "/run/wardgate/control.sock"
	DefaultGroup        = "wardgate"
	DefaultChainPort    = 8545
	DefaultPeerPort     = 7400
	DefaultMaxBody      = 16 << 20
	DefaultEmbeddedWait = 60 * time.Second
	DefaultCheckpoint   = 5 * time.Second
	DefaultDevicePath   = "/dev/tpmrm0"
	DefaultEventLog     = "/sys/kernel/security/tpm0/binary_bios_measurements"
	maxPeers            = 1024
	maxListLen          = 4096
)

var (
	ekRE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	ifRE   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
	addrRE = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
)

func normEK(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

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

func (k *checker) oneOf(path, s string, allowed ...string) bool {
	if !slices.Contains(allowed, s) {
		if s == "" {
			k.add(path, "is required: one of %s", strings.Join(allowed, ", "))
		} else {
			k.add(path, "%q is not one of %s", s, strings.Join(allowed, ", "))
		}
		return false
	}
	return true
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

// validate applies defaults and checks every key, collecting all errors.
func (c *Config) validate() Errors {
	k := &checker{}
	c.p = parsed{peers: map[string]parsedPeer{}}

	if k.required("box", c.Box, "this box's name, e.g. hospital-a") {
		k.boxName("box", c.Box)
	}
	k.required("state_dir", c.StateDir, "a directory for keys, the journal and the chain, e.g. /var/lib/wardgate")
	if c.Log.Level != "" {
		k.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	}
	if c.Log.Format != "" {
		k.oneOf("log.format", c.Log.Format, "text", "json")
	}

	// tpm
	if k.oneOf("tpm.source", c.TPM.Source, "simulator", "swtpm", "device") {
		switch c.TPM.Source {
		case "device":
			if c.TPM.Path == "" {
				c.TPM.Path = DefaultDevicePath
			}
			if c.TPM.Address != "" {
				k.add("tpm.address", "is only for source swtpm; remove it or set source: swtpm")
			}
			if c.TPM.CtrlAddress != "" {
				k.add("tpm.ctrl_address", "is only for source swtpm; remove it")
			}
			if c.TPM.DevCA != "" {
				k.add("tpm.dev_ca", "is only for simulated TPMs (simulator, swtpm); a device has its manufacturer's EK certificate")
			}
			if len(c.Firmware.Image) > 0 {
				k.add("firmware.image", "is only for simulated TPMs; a device's boot is measured by the platform (set firmware.event_log)")
			}
			if c.Firmware.EventLog == "" {
				c.Firmware.EventLog = DefaultEventLog
			}
		case "swtpm":
			if k.required("tpm.address", c.TPM.Address, "swtpm's command channel host:port, e.g. 127.0.0.1:2321") {
				k.hostPort("tpm.address", c.TPM.Address, "127.0.0.1:2321")
			}
			if c.TPM.Path != "" {
				k.add("tpm.path", "is only for source device; remove it")
			}
			if c.TPM.CtrlAddress != "" {
				k.hostPort("tpm.ctrl_address", c.TPM.CtrlAddress, "127.0.0.1:2322")
			}
		case "simulator":
			if c.TPM.Path != "" {
				k.add("tpm.path", "is only for source device; remove it")
			}
			if c.TPM.Address != "" {
				k.add("tpm.address", "is only for source swtpm; remove it")
			}
			if c.TPM.CtrlAddress != "" {
				k.add("tpm.ctrl_address", "is only for source swtpm; remove it")
			}
		}
		if c.TPM.Source != "device" {
			k.required("tpm.dev_ca", c.TPM.DevCA, "the development manufacturer CA directory that issues the simulated EK certificate, e.g. /var/lib/wardgate/dev-ca")
			if c.Firmware.EventLog != "" {
				k.add("firmware.event_log", "is only for source device; a simulated TPM plays back firmware.image")
			}
			if len(c.Firmware.Image) == 0 {
				k.add("firmware.image", "is required for a simulated TPM: list the components it boots (name, version, file or sha256)")
			}
		}
	}
	k.listLen("firmware.image", len(c.Firmware.Image))
	seenComp := map[string]bool{}
	for i, fc := range c.Firmware.Image {
		p := fmt.Sprintf("firmware.image[%d]", i)
		if k.required(p+".name", fc.Name, "the component's name as in the manifest, e.g. bootloader") {
			if fc.Name == "wardgated" {
				k.add(p+".name", "\"wardgated\" is measured automatically (the running binary, last); remove this entry")
			}
			if seenComp[fc.Name] {
				k.add(p+".name", "%q is listed twice; each component once", fc.Name)
			}
			seenComp[fc.Name] = true
		}
		switch {
		case fc.File == "" && fc.SHA256 == "":
			k.add(p, "needs file (hashed at start) or sha256 (64 hex digits)")
		case fc.File != "" && fc.SHA256 != "":
			k.add(p, "has both file and sha256; keep one")
		case fc.SHA256 != "":
			if b, err := hex.DecodeString(fc.SHA256); err != nil || len(b) != 32 {
				k.add(p+".sha256", "%q is not 64 hex digits", fc.SHA256)
			}
		}
		if fc.PCR < 0 || fc.PCR > 15 {
			k.add(p+".pcr", "%d is not a static-boot PCR; use 0..15 (boot components usually 0, 2 or 4)", fc.PCR)
		}
	}

	// tunnel
	k.oneOf("tunnel.mode", c.Tunnel.Mode, "tun", "userspace")
	if c.Tunnel.Interface == "" {
		c.Tunnel.Interface = DefaultInterface
	} else if !ifRE.MatchString(c.Tunnel.Interface) {
		k.add("tunnel.interface", "%q is not a Linux interface name (1-15 letters, digits, '_', '.', '-')", c.Tunnel.Interface)
	}
	k.port("tunnel.listen_port", c.Tunnel.ListenPort, 51820)
	if k.required("tunnel.address", c.Tunnel.Address, "this box's tunnel address as CIDR, e.g. 10.9.0.1/24") {
		if p, ok := k.prefix("tunnel.address", c.Tunnel.Address, "10.9.0.1/24"); ok {
			c.p.tunnelAddr = p
		}
	}
	if c.Tunnel.MTU == 0 {
		c.Tunnel.MTU = DefaultMTU
	} else if c.Tunnel.MTU < 1280 || c.Tunnel.MTU > 9000 {
		k.add("tunnel.mtu", "%d is out of range; use 1280..9000 (1420 suits a 1500-byte underlay)", c.Tunnel.MTU)
	}
	k.listLen("tunnel.lan_routes", len(c.Tunnel.LANRoutes))
	for i, r := range c.Tunnel.LANRoutes {
		if p, ok := k.prefix(fmt.Sprintf("tunnel.lan_routes[%d]", i), r, "192.168.20.0/24"); ok {
			c.p.lanRoutes = append(c.p.lanRoutes, p.Masked())
		}
	}

	// attestation
	a := &c.Attestation
	if k.required("attestation.listen", a.Listen, "host:port of the attestation HTTPS listener on the underlay, e.g. 0.0.0.0:7443") {
		k.hostPort("attestation.listen", a.Listen, "0.0.0.0:7443")
	}
	c.p.interval = k.duration("attestation.interval", a.Interval, DefaultInterval, 100*time.Millisecond)
	c.p.verdictLifetime = k.duration("attestation.verdict_lifetime", a.VerdictLifetime, 3*c.p.interval, 100*time.Millisecond)
	if c.p.verdictLifetime < c.p.interval {
		k.add("attestation.verdict_lifetime", "%s is shorter than attestation.interval %s, so every peer would expire between re-attestations; make it at least the interval (e.g. 3x)", c.p.verdictLifetime, c.p.interval)
	}
	c.p.nonceTTL = k.duration("attestation.nonce_ttl", a.NonceTTL, DefaultNonceTTL, 100*time.Millisecond)
	k.required("attestation.manufacturer_roots", a.ManufacturerRoots, "a directory of PEM manufacturer CA certificates that EK certificates chain to")
	k.listLen("attestation.enrollment", len(a.Enrollment))
	enrolled := map[string]string{}
	for i, e := range a.Enrollment {
		p := fmt.Sprintf("attestation.enrollment[%d]", i)
		if k.required(p+".name", e.Name, "the enrolled box's name") && k.boxName(p+".name", e.Name) {
			if _, dup := enrolled[e.Name]; dup {
				k.add(p+".name", "%q is enrolled twice; keep one entry", e.Name)
			}
		}
		if !ekRE.MatchString(normEK(e.EK)) {
			k.add(p+".ek", "%q is not an EK identity; write sha256:<64 hex digits> as printed by `wardgated --identity`", e.EK)
		}
		enrolled[e.Name] = normEK(e.EK)
	}
	if len(a.Manifests) == 0 {
		k.add("attestation.manifests", "is required: at least one signed firmware manifest {path, signature}")
	}
	k.listLen("attestation.manifests", len(a.Manifests))
	for i, m := range a.Manifests {
		p := fmt.Sprintf("attestation.manifests[%d]", i)
		k.required(p+".path", m.Path, "the manifest JSON file")
		k.required(p+".signature", m.Signature, "the manifest's detached signature file, e.g. "+"firmware-1.0.sig")
	}
	if len(a.VendorKeys) == 0 {
		k.add("attestation.vendor_keys", "is required: at least one file with the Ed25519 public key that signs the manifests")
	}
	k.listLen("attestation.vendor_keys", len(a.VendorKeys))
	for i, v := range a.VendorKeys {
		k.required(fmt.Sprintf("attestation.vendor_keys[%d]", i), v, "a public key file")
	}

	// peers
	if len(c.Peers) > maxPeers {
		k.add("peers", "has %d entries; at most %d are allowed", len(c.Peers), maxPeers)
	}
	seenPeer := map[string]bool{}
	type owner struct {
		path string
		p    netip.Prefix
	}
	var owners []owner
	if c.p.tunnelAddr.IsValid() {
		owners = append(owners, owner{"tunnel.address", netip.PrefixFrom(c.p.tunnelAddr.Addr(), c.p.tunnelAddr.Addr().BitLen())})
	}
	// This hospital's own LAN must never be routed into the tunnel.
	for i, r := range c.p.lanRoutes {
		owners = append(owners, owner{fmt.Sprintf("tunnel.lan_routes[%d]", i), r})
	}
	for i, pr := range c.Peers {
		p := fmt.Sprintf("peers[%d]", i)
		var pp parsedPeer
		if k.required(p+".name", pr.Name, "the peer box's name, as its own config's box") {
			switch {
			case !k.boxName(p+".name", pr.Name):
			case pr.Name == c.Box:
				k.add(p+".name", "%q is this box itself; list only the other boxes", pr.Name)
			case seenPeer[pr.Name]:
				k.add(p+".name", "%q is listed twice; each peer once", pr.Name)
			}
			seenPeer[pr.Name] = true
		}
		if k.required(p+".endpoint", pr.Endpoint, "the peer's attestation host:port on the underlay, e.g. 192.0.2.12:7443") &&
			k.hostPort(p+".endpoint", pr.Endpoint, "192.0.2.12:7443") {
			pp.endpoint = pr.Endpoint
		}
		if k.required(p+".wireguard_endpoint", pr.WireGuardEndpoint, "the peer's WireGuard UDP ip:port on the underlay, e.g. 192.0.2.12:51820") {
			if ap, err := netip.ParseAddrPort(pr.WireGuardEndpoint); err != nil || ap.Port() == 0 {
				k.add(p+".wireguard_endpoint", "%q is not ip:port; write e.g. 192.0.2.12:51820", pr.WireGuardEndpoint)
			} else {
				pp.wgEndpoint = ap
			}
		}
		switch {
		case pr.EK == "" && enrolled[pr.Name] == "":
			k.add(p+".ek", "is required (or an attestation.enrollment entry for %q): the peer's EK identity sha256:<64 hex digits> from `wardgated --identity` on that box", pr.Name)
		case pr.EK != "" && !ekRE.MatchString(normEK(pr.EK)):
			k.add(p+".ek", "%q is not an EK identity; write sha256:<64 hex digits> as printed by `wardgated --identity`", pr.EK)
		case pr.EK != "" && enrolled[pr.Name] != "" && enrolled[pr.Name] != normEK(pr.EK):
			k.add(p+".ek", "differs from attestation.enrollment for %q; keep one identity", pr.Name)
		}
		if len(pr.AllowedIPs) == 0 {
			k.add(p+".allowed_ips", "is required: the peer's tunnel address as /32, e.g. 10.9.0.2/32, plus its LAN routes")
		}
		k.listLen(p+".allowed_ips", len(pr.AllowedIPs))
		for j, s := range pr.AllowedIPs {
			ap := fmt.Sprintf("%s.allowed_ips[%d]", p, j)
			ip, ok := k.prefix(ap, s, "10.9.0.2/32")
			if !ok {
				continue
			}
			ip = ip.Masked()
			for _, o := range owners {
				if o.p.Overlaps(ip) {
					k.add(ap, "%s overlaps %s (%s); each address belongs to one box", s, o.path, o.p)
					break
				}
			}
			owners = append(owners, owner{ap, ip})
			pp.allowed = append(pp.allowed, ip)
		}
		c.p.peers[pr.Name] = pp
	}

	// chain
	ch := &c.Chain
	c.p.period = 0
	if ch.CheckpointInterval == "" {
		ch.CheckpointInterval = DefaultCheckpoint.String()
	} else {
		k.duration("chain.checkpoint_interval", ch.CheckpointInterval, DefaultCheckpoint, 100*time.Millisecond)
	}
	if k.oneOf("chain.mode", ch.Mode, "embedded", "rpc", "none") {
		emb, rpc := ch.Embedded != (Embedded{}), ch.RPC != (RPC{})
		switch ch.Mode {
		case "embedded":
			if rpc {
				k.add("chain.rpc", "is set but chain.mode is embedded; remove it or set mode: rpc")
			}
			if ch.Embedded.Port == 0 {
				ch.Embedded.Port = DefaultChainPort
			} else {
				k.port("chain.embedded.port", ch.Embedded.Port, DefaultChainPort)
			}
			if ch.Embedded.Host == "" {
				ch.Embedded.Host = "127.0.0.1"
			} else if _, err := netip.ParseAddr(ch.Embedded.Host); err != nil {
				k.add("chain.embedded.host", "%q is not an IP address; write e.g. 127.0.0.1", ch.Embedded.Host)
			}
			c.p.period = k.duration("chain.embedded.period", ch.Embedded.Period, 0, 0)
			if ch.Embedded.Wait == "" {
				ch.Embedded.Wait = DefaultEmbeddedWait.String()
			} else {
				k.duration("chain.embedded.wait", ch.Embedded.Wait, DefaultEmbeddedWait, time.Second)
			}
		case "rpc":
			if emb {
				k.add("chain.embedded", "is set but chain.mode is rpc; remove it or set mode: embedded")
			}
			r := ch.RPC
			if k.required("chain.rpc.url", r.URL, "the chain's JSON-RPC URL, e.g. http://10.0.0.5:8545") {
				if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
					k.add("chain.rpc.url", "%q is not an http(s) or ws(s) URL; write e.g. http://10.0.0.5:8545", r.URL)
				}
			}
			if r.ChainID == 0 {
				k.add("chain.rpc.chain_id", "is required: the chain id (e.g. 7741 for the wardgate dev chain)")
			}
			if !addrRE.MatchString(r.Contract) {
				k.add("chain.rpc.contract", "%q is not a contract address; write 0x followed by 40 hex digits", r.Contract)
			}
			k.required("chain.rpc.keystore", r.Keystore, "the gateway account's go-ethereum keystore JSON file")
		case "none":
			if emb || rpc {
				k.add("chain", "mode none takes no embedded or rpc settings; remove them")
			}
		}
	}

	// control, api, metrics
	if c.Control.Socket == "" {
		c.Control.Socket = DefaultSocket
	}
	if c.Control.Group == "" {
		c.Control.Group = DefaultGroup
	}
	if c.API.Listen != "" {
		k.hostPort("api.listen", c.API.Listen, "0.0.0.0:8443")
		k.required("api.tls_cert", c.API.TLSCert, "the API server's PEM certificate")
		k.required("api.tls_key", c.API.TLSKey, "the API server's PEM private key")
		k.required("api.client_ca", c.API.ClientCA, "the PEM CA of the security team's client certificates; requests without one are refused")
	} else if c.API.TLSCert != "" || c.API.TLSKey != "" || c.API.ClientCA != "" {
		k.add("api.listen", "is required when api TLS files are set, e.g. 0.0.0.0:8443 (or remove the api section to disable it)")
	}
	if c.Metrics.Listen != "" {
		k.hostPort("metrics.listen", c.Metrics.Listen, "127.0.0.1:9090")
	}

	// records
	r := &c.Records
	if r.LANListen != "" {
		k.hostPort("records.lan_listen", r.LANListen, "192.168.10.2:7480")
	}
	if r.TLSCert != "" || r.TLSKey != "" || r.ClientCA != "" {
		if r.LANListen == "" {
			k.add("records.lan_listen", "is required when records TLS files are set, e.g. 192.168.10.2:7443 (or remove records.tls_*)")
		}
		k.required("records.tls_cert", r.TLSCert, "the LAN listener's PEM certificate (records.tls_cert, tls_key and client_ca go together)")
		k.required("records.tls_key", r.TLSKey, "the LAN listener's PEM private key")
		k.required("records.client_ca", r.ClientCA, "the PEM CA of the hospital systems' client certificates; records without one are refused")
	}
	if r.MLLPListen != "" {
		k.hostPort("records.mllp_listen", r.MLLPListen, "192.168.10.2:2575")
	}
	if r.DeliverFHIRBatch && r.DeliverURL == "" {
		k.add("records.deliver_fhir_batch", "needs records.deliver_url (the FHIR server's base URL, which takes batch Bundles)")
	}
	if r.DeliverURL != "" {
		if u, err := url.Parse(r.DeliverURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			k.add("records.deliver_url", "%q is not an http(s) URL; write e.g. http://192.168.10.20:8080/records", r.DeliverURL)
		}
	}
	if r.DeliverMLLP != "" {
		k.hostPort("records.deliver_mllp", r.DeliverMLLP, "192.168.10.21:2575")
		if r.DeliverURL != "" {
			k.add("records.deliver_mllp", "is set together with records.deliver_url; received records go to one LAN endpoint, keep one")
		}
	}
	peerNames := map[string]bool{}
	for _, p := range c.Peers {
		peerNames[p.Name] = true
	}
	if r.MLLPPeer != "" && !peerNames[r.MLLPPeer] {
		k.add("records.mllp_peer", "%q is not in peers; name one of the configured peers", r.MLLPPeer)
	}
	facs := make([]string, 0, len(r.MLLPRoutes))
	for fac := range r.MLLPRoutes {
		facs = append(facs, fac)
	}
	slices.Sort(facs)
	for _, fac := range facs {
		if p := r.MLLPRoutes[fac]; !peerNames[p] {
			k.add("records.mllp_routes."+fac, "%q is not in peers; name one of the configured peers", p)
		}
	}
	if r.MaxBody == 0 {
		r.MaxBody = DefaultMaxBody
	} else if r.MaxBody < 1 || r.MaxBody > 1<<30 {
		k.add("records.max_body", "%d is out of range; use 1..1073741824 bytes", r.MaxBody)
	}
	if r.PeerPort == 0 {
		r.PeerPort = DefaultPeerPort
	} else {
		k.port("records.peer_port", r.PeerPort, DefaultPeerPort)
	}
	return k.errs
}

// CheckFiles checks that every file and directory the config names exists
// (what --check-config adds to Validate).
func (c *Config) CheckFiles() error {
	k := &checker{}
	file := func(path, p string) {
		if p == "" {
			return
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			k.add(path, "%s: %v; fix the path or create the file", p, unwrapPathErr(err))
		case st.IsDir():
			k.add(path, "%s is a directory; name a file", p)
		}
	}
	dir := func(path, p string) {
		if p == "" {
			return
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			k.add(path, "%s: %v; fix the path or create the directory", p, unwrapPathErr(err))
		case !st.IsDir():
			k.add(path, "%s is not a directory", p)
		}
	}
	dir("attestation.manufacturer_roots", c.Attestation.ManufacturerRoots)
	for i, m := range c.Attestation.Manifests {
		file(fmt.Sprintf("attestation.manifests[%d].path", i), m.Path)
		file(fmt.Sprintf("attestation.manifests[%d].signature", i), m.Signature)
	}
	for i, v := range c.Attestation.VendorKeys {
		file(fmt.Sprintf("attestation.vendor_keys[%d]", i), v)
	}
	file("attestation.policy", c.Attestation.Policy)
	for i, fc := range c.Firmware.Image {
		file(fmt.Sprintf("firmware.image[%d].file", i), fc.File)
	}
	if c.TPM.Source == "device" {
		file("tpm.path", c.TPM.Path)
	}
	file("chain.embedded.passphrase_file", c.Chain.Embedded.PassphraseFile)
	file("chain.rpc.keystore", c.Chain.RPC.Keystore)
	file("chain.rpc.passphrase_file", c.Chain.RPC.PassphraseFile)
	file("api.tls_cert", c.API.TLSCert)
	file("api.tls_key", c.API.TLSKey)
	file("api.client_ca", c.API.ClientCA)
	file("records.tls_cert", c.Records.TLSCert)
	file("records.tls_key", c.Records.TLSKey)
	file("records.client_ca", c.Records.ClientCA)
	if len(k.errs) > 0 {
		return k.errs
	}
	return nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
)

// typeErrors turns yaml.v3's "line N: ..." messages into key paths, and
// unknown keys into the list of valid ones.
func typeErrors(data []byte, te *yaml.TypeError) Errors {
	var root yaml.Node
	paths := map[int]string{}
	if yaml.Unmarshal(data, &root) == nil {
		walkPaths(&root, "", paths)
	}
	var out Errors
	for _, m := range te.Errors {
		e := Error{Path: "(file)", Msg: m}
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
			if p, ok := paths[e.Line]; ok {
				e.Path = p
			}
		}
		if um := unknownRE.FindStringSubmatch(e.Msg); um != nil {
			e.Msg = fmt.Sprintf("unknown key %q; valid keys here: %s", um[1], strings.Join(keysOf(um[2]), ", "))
		} else {
			e.Msg = strings.Replace(e.Msg, "cannot unmarshal", "wrong type: cannot read", 1)
		}
		out = append(out, e)
	}
	return out
}

// walkPaths records, per line, the key path of the first key or item on it.
func walkPaths(n *yaml.Node, path string, out map[int]string) {
	set := func(line int, p string) {
		if _, ok := out[line]; !ok && p != "" {
			out[line] = p
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkPaths(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := key.Value
			if path != "" {
				p = path + "." + key.Value
			}
			set(key.Line, p)
			walkPaths(val, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			set(c.Line, p)
			walkPaths(c, p, out)
		}
	default:
		set(n.Line, path)
	}
}

// keysOf lists the yaml keys of the config type named like "config.Tunnel".
func keysOf(typeName string) []string {
	var found reflect.Type
	var visit func(t reflect.Type)
	seen := map[reflect.Type]bool{}
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		if t.String() == typeName {
			found = t
		}
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				visit(t.Field(i).Type)
			}
		}
	}
	visit(reflect.TypeOf(Config{}))
	if found == nil {
		return nil
	}
	var keys []string
	for i := 0; i < found.NumField(); i++ {
		f := found.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}
