package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/records"
	"github.com/wardgate/wardgate/tunnel"
)

// Defaults applied by validation that only the config uses. The others
// are the defaults of the package that takes the value (tunnel.DefaultMTU,
// records.DefaultMaxBody, ledger.DevChainPort...): validation fills them
// in by name, so each default is defined once, where it is used.
const (
	DefaultInterval     = 30 * time.Second
	DefaultPeerPort     = 7400
	DefaultEmbeddedWait = 60 * time.Second
	maxPeers            = 1024
	maxListLen          = 4096
)

// validate applies defaults and checks every key, collecting all errors.
// Each section's validator appends to k and never stops the others, so one
// run reports every problem in the file, in the file's order.
func (c *Config) validate() Errors {
	k := &checker{}
	c.p = parsed{peers: map[string]parsedPeer{}}
	c.validateBox(k)
	c.validateTPM(k)
	c.validateFirmware(k)
	c.validateTunnel(k)
	enrolled := c.validateAttestation(k)
	c.validateScale(k)
	c.validatePeers(k, enrolled)
	c.validateRelay(k)
	c.validateChain(k)
	c.validateControl(k)
	c.validateAPI(k)
	c.validateMetrics(k)
	c.validateRecords(k)
	c.validateAudit(k)
	c.validateWitness(k)
	return k.errs
}

// validateBox checks the keys that identify the box: box, state_dir, log.
func (c *Config) validateBox(k *checker) {
	if k.required("box", c.Box, "this box's name, e.g. hospital-a") {
		k.boxName("box", c.Box)
	}
	k.required("state_dir", c.StateDir, "a directory for keys, the journal and the chain, e.g. /var/lib/wardgate")
	if c.Log.Level != "" {
		oneOf(k, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	}
	if c.Log.Format != "" {
		oneOf(k, "log.format", c.Log.Format, "text", "json")
	}
}

// validateTPM checks tpm: each source takes its own keys, and a simulated
// TPM (simulator, swtpm) needs a dev CA and a firmware image to play back.
func (c *Config) validateTPM(k *checker) {
	if !oneOf(k, "tpm.source", c.TPM.Source, TPMSources()...) {
		return
	}
	switch c.TPM.Source {
	case TPMDevice:
		c.validateTPMDevice(k)
	case TPMSwtpm:
		c.validateTPMSwtpm(k)
	case TPMSimulator:
		c.validateTPMSimulator(k)
	}
	if c.TPM.Source != TPMDevice {
		c.validateSimulatedBoot(k)
	}
}

func (c *Config) validateTPMDevice(k *checker) {
	if c.TPM.Path == "" {
		c.TPM.Path = attest.DefaultDevicePath
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
		c.Firmware.EventLog = firmware.KernelEventLogPath
	}
}

func (c *Config) validateTPMSwtpm(k *checker) {
	if k.required("tpm.address", c.TPM.Address, "swtpm's command channel host:port, e.g. 127.0.0.1:2321") {
		k.hostPort("tpm.address", c.TPM.Address, "127.0.0.1:2321")
	}
	if c.TPM.Path != "" {
		k.add("tpm.path", "is only for source device; remove it")
	}
	if c.TPM.CtrlAddress != "" {
		k.hostPort("tpm.ctrl_address", c.TPM.CtrlAddress, "127.0.0.1:2322")
	}
}

func (c *Config) validateTPMSimulator(k *checker) {
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

// validateSimulatedBoot checks what a simulated TPM needs: a dev CA for
// its EK certificate, and an image to boot instead of an event log.
func (c *Config) validateSimulatedBoot(k *checker) {
	k.required("tpm.dev_ca", c.TPM.DevCA, "the development manufacturer CA directory that issues the simulated EK certificate, e.g. /var/lib/wardgate/dev-ca")
	if c.Firmware.EventLog != "" {
		k.add("firmware.event_log", "is only for source device; a simulated TPM plays back firmware.image")
	}
	if len(c.Firmware.Image) == 0 {
		k.add("firmware.image", "is required for a simulated TPM: list the components it boots (name, version, file or sha256)")
	}
}

// validateFirmware checks each component of firmware.image.
func (c *Config) validateFirmware(k *checker) {
	k.listLen("firmware.image", len(c.Firmware.Image))
	seen := map[string]bool{}
	for i, fc := range c.Firmware.Image {
		validateComponent(k, fmt.Sprintf("firmware.image[%d]", i), fc, seen)
	}
}

func validateComponent(k *checker, p string, fc Component, seen map[string]bool) {
	if k.required(p+".name", fc.Name, "the component's name as in the manifest, e.g. bootloader") {
		if fc.Name == "wardgated" {
			k.add(p+".name", "\"wardgated\" is measured automatically (the running binary, last); remove this entry")
		}
		if seen[fc.Name] {
			k.add(p+".name", "%q is listed twice; each component once", fc.Name)
		}
		seen[fc.Name] = true
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

// validateTunnel checks tunnel and parses its address and LAN routes.
func (c *Config) validateTunnel(k *checker) {
	t := &c.Tunnel
	oneOf(k, "tunnel.mode", t.Mode, tunnel.Modes()...)
	if t.Interface == "" {
		t.Interface = tunnel.DefaultInterface
	} else if !ifRE.MatchString(t.Interface) {
		k.add("tunnel.interface", "%q is not a Linux interface name (1-15 letters, digits, '_', '.', '-')", t.Interface)
	}
	k.port("tunnel.listen_port", t.ListenPort, 51820)
	if k.required("tunnel.address", t.Address, "this box's tunnel address as CIDR, e.g. 10.9.0.1/24") {
		if p, ok := k.prefix("tunnel.address", t.Address, "10.9.0.1/24"); ok {
			c.p.tunnelAddr = p
		}
	}
	if t.MTU == 0 {
		t.MTU = tunnel.DefaultMTU
	} else if t.MTU < 1280 || t.MTU > 9000 {
		k.add("tunnel.mtu", "%d is out of range; use 1280..9000 (%d suits a 1500-byte underlay)", t.MTU, tunnel.DefaultMTU)
	}
	k.listLen("tunnel.lan_routes", len(t.LANRoutes))
	for i, r := range t.LANRoutes {
		if p, ok := k.prefix(fmt.Sprintf("tunnel.lan_routes[%d]", i), r, "192.168.20.0/24"); ok {
			c.p.lanRoutes = append(c.p.lanRoutes, p.Masked())
		}
	}
}

// validateAttestation checks attestation and returns the enrollment list
// (box name -> EK), which the peers are checked against.
func (c *Config) validateAttestation(k *checker) map[string]string {
	a := &c.Attestation
	if k.required("attestation.listen", a.Listen, "host:port of the attestation HTTPS listener on the underlay, e.g. 0.0.0.0:7443") {
		k.hostPort("attestation.listen", a.Listen, "0.0.0.0:7443")
	}
	c.validateAttestationTimes(k)
	k.required("attestation.manufacturer_roots", a.ManufacturerRoots, "a directory of PEM manufacturer CA certificates that EK certificates chain to")
	enrolled := validateEnrollment(k, a.Enrollment)
	validateManifests(k, a.Manifests)
	validateVendorKeys(k, a.VendorKeys)
	return enrolled
}

// validateAttestationTimes parses the interval, verdict lifetime and nonce
// TTL; a lifetime shorter than the interval would expire every peer.
func (c *Config) validateAttestationTimes(k *checker) {
	a := &c.Attestation
	c.p.interval = k.duration("attestation.interval", a.Interval, DefaultInterval, 100*time.Millisecond)
	c.p.verdictLifetime = k.duration("attestation.verdict_lifetime", a.VerdictLifetime, 3*c.p.interval, 100*time.Millisecond)
	if c.p.verdictLifetime < c.p.interval {
		k.add("attestation.verdict_lifetime", "%s is shorter than attestation.interval %s, so every peer would expire between re-attestations; make it at least the interval (e.g. 3x)", c.p.verdictLifetime, c.p.interval)
	}
	c.p.nonceTTL = k.duration("attestation.nonce_ttl", a.NonceTTL, attest.DefaultNonceTTL, 100*time.Millisecond)
}

func validateEnrollment(k *checker, list []Enrolled) map[string]string {
	k.listLen("attestation.enrollment", len(list))
	enrolled := map[string]string{}
	for i, e := range list {
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
	return enrolled
}

func validateManifests(k *checker, list []Manifest) {
	if len(list) == 0 {
		k.add("attestation.manifests", "is required: at least one signed firmware manifest {path, signature}")
	}
	k.listLen("attestation.manifests", len(list))
	for i, m := range list {
		p := fmt.Sprintf("attestation.manifests[%d]", i)
		k.required(p+".path", m.Path, "the manifest JSON file")
		k.required(p+".signature", m.Signature, "the manifest's detached signature file, e.g. "+"firmware-1.0.sig")
	}
}

func validateVendorKeys(k *checker, list []string) {
	if len(list) == 0 {
		k.add("attestation.vendor_keys", "is required: at least one file with the Ed25519 public key that signs the manifests")
	}
	k.listLen("attestation.vendor_keys", len(list))
	for i, v := range list {
		k.required(fmt.Sprintf("attestation.vendor_keys[%d]", i), v, "a public key file")
	}
}

// owner is an address range and the key that claims it; no two keys may
// claim overlapping ranges.
type owner struct {
	path string
	p    netip.Prefix
}

// validatePeers checks every peer and parses its endpoints and allowed IPs.
func (c *Config) validatePeers(k *checker, enrolled map[string]string) {
	if len(c.Peers) > maxPeers {
		k.add("peers", "has %d entries; at most %d are allowed", len(c.Peers), maxPeers)
	}
	owners := c.ownAddresses()
	seen := map[string]bool{}
	for i, pr := range c.Peers {
		p := fmt.Sprintf("peers[%d]", i)
		c.validatePeerName(k, p, pr.Name, seen)
		pp := validatePeerEndpoints(k, p, pr)
		validatePeerEK(k, p, pr, enrolled)
		pp.allowed = validateAllowedIPs(k, p, pr.AllowedIPs, &owners)
		c.p.peers[pr.Name] = pp
	}
}

// ownAddresses is what this box claims: its tunnel address and its LAN.
func (c *Config) ownAddresses() []owner {
	var owners []owner
	if c.p.tunnelAddr.IsValid() {
		owners = append(owners, owner{"tunnel.address", netip.PrefixFrom(c.p.tunnelAddr.Addr(), c.p.tunnelAddr.Addr().BitLen())})
	}
	// This hospital's own LAN must never be routed into the tunnel.
	for i, r := range c.p.lanRoutes {
		owners = append(owners, owner{fmt.Sprintf("tunnel.lan_routes[%d]", i), r})
	}
	return owners
}

func (c *Config) validatePeerName(k *checker, p, name string, seen map[string]bool) {
	if !k.required(p+".name", name, "the peer box's name, as its own config's box") {
		return
	}
	switch {
	case !k.boxName(p+".name", name):
	case name == c.Box:
		k.add(p+".name", "%q is this box itself; list only the other boxes", name)
	case seen[name]:
		k.add(p+".name", "%q is listed twice; each peer once", name)
	}
	seen[name] = true
}

func validatePeerEndpoints(k *checker, p string, pr Peer) parsedPeer {
	var pp parsedPeer
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
	return pp
}

// validatePeerEK checks the peer's EK identity, given here or enrolled
// (one of the two, and the same if both).
func validatePeerEK(k *checker, p string, pr Peer, enrolled map[string]string) {
	switch {
	case pr.EK == "" && enrolled[pr.Name] == "":
		k.add(p+".ek", "is required (or an attestation.enrollment entry for %q): the peer's EK identity sha256:<64 hex digits> from `wardgated --identity` on that box", pr.Name)
	case pr.EK != "" && !ekRE.MatchString(normEK(pr.EK)):
		k.add(p+".ek", "%q is not an EK identity; write sha256:<64 hex digits> as printed by `wardgated --identity`", pr.EK)
	case pr.EK != "" && enrolled[pr.Name] != "" && enrolled[pr.Name] != normEK(pr.EK):
		k.add(p+".ek", "differs from attestation.enrollment for %q; keep one identity", pr.Name)
	}
}

// validateAllowedIPs parses a peer's allowed IPs; each must overlap no
// range already claimed (this box's, or an earlier peer's), and is then
// claimed itself.
func validateAllowedIPs(k *checker, p string, list []string, owners *[]owner) []netip.Prefix {
	if len(list) == 0 {
		k.add(p+".allowed_ips", "is required: the peer's tunnel address as /32, e.g. 10.9.0.2/32, plus its LAN routes")
	}
	k.listLen(p+".allowed_ips", len(list))
	var allowed []netip.Prefix
	for j, s := range list {
		ap := fmt.Sprintf("%s.allowed_ips[%d]", p, j)
		ip, ok := k.prefix(ap, s, "10.9.0.2/32")
		if !ok {
			continue
		}
		ip = ip.Masked()
		for _, o := range *owners {
			if o.p.Overlaps(ip) {
				k.add(ap, "%s overlaps %s (%s); each address belongs to one box", s, o.path, o.p)
				break
			}
		}
		*owners = append(*owners, owner{ap, ip})
		allowed = append(allowed, ip)
	}
	return allowed
}

// validateChain checks chain: the checkpoint interval, then the settings
// of the chosen mode, which must be the only ones set.
func (c *Config) validateChain(k *checker) {
	ch := &c.Chain
	c.p.period = 0
	if ch.CheckpointInterval == "" {
		ch.CheckpointInterval = ledger.DefaultCheckpointInterval.String()
	} else {
		k.duration("chain.checkpoint_interval", ch.CheckpointInterval, ledger.DefaultCheckpointInterval, 100*time.Millisecond)
	}
	if !oneOf(k, "chain.mode", ch.Mode, ChainModes()...) {
		return
	}
	c.validateMinDepth(k)
	emb, rpc := ch.Embedded != (Embedded{}), !reflect.ValueOf(ch.RPC).IsZero()
	switch ch.Mode {
	case ChainEmbedded:
		if rpc {
			k.add("chain.rpc", "is set but chain.mode is embedded; remove it or set mode: rpc")
		}
		c.validateEmbedded(k)
	case ChainRPC:
		if emb {
			k.add("chain.embedded", "is set but chain.mode is rpc; remove it or set mode: embedded")
		}
		validateRPC(k, ch.RPC)
	case ChainNone:
		if ch.MinDepth != 0 {
			k.add("chain.min_depth", "is set but chain.mode is none; remove it")
		}
		if emb || rpc {
			k.add("chain", "mode none takes no embedded or rpc settings; remove them")
		}
	}
}

// validateMinDepth fills chain.min_depth: the old per-mode confirmations
// setting if that is all there is, else 1.
func (c *Config) validateMinDepth(k *checker) {
	ch := &c.Chain
	old := ch.Embedded.Confirmations
	field := "chain.embedded.confirmations"
	if ch.Mode == ChainRPC {
		old, field = ch.RPC.Confirmations, "chain.rpc.confirmations"
	}
	switch {
	case ch.MinDepth != 0 && old != 0 && old != ch.MinDepth:
		k.add(field, "is %d but chain.min_depth is %d; remove %s (min_depth replaces it)", old, ch.MinDepth, field)
	case ch.MinDepth == 0 && old != 0:
		ch.MinDepth = old
	case ch.MinDepth == 0 && ch.Mode != ChainNone:
		ch.MinDepth = 1
	}
}

func (c *Config) validateEmbedded(k *checker) {
	e := &c.Chain.Embedded
	if e.Port == 0 {
		e.Port = ledger.DevChainPort
	} else {
		k.port("chain.embedded.port", e.Port, ledger.DevChainPort)
	}
	if e.Host == "" {
		e.Host = ledger.DevChainHost
	} else if _, err := netip.ParseAddr(e.Host); err != nil {
		k.add("chain.embedded.host", "%q is not an IP address; write e.g. 127.0.0.1", e.Host)
	}
	c.p.period = k.duration("chain.embedded.period", e.Period, 0, 0)
	if e.Wait == "" {
		e.Wait = DefaultEmbeddedWait.String()
	} else {
		k.duration("chain.embedded.wait", e.Wait, DefaultEmbeddedWait, time.Second)
	}
}

func validateRPC(k *checker, r RPC) {
	if r.URL == "" && len(r.Endpoints) == 0 {
		k.add("chain.rpc.endpoints", "is required: the chain's JSON-RPC URLs, one per consortium node, e.g. [http://10.0.0.5:8545, http://10.0.1.5:8545]")
	}
	if r.URL != "" {
		checkRPCURL(k, "chain.rpc.url", r.URL)
	}
	for i, u := range r.Endpoints {
		checkRPCURL(k, fmt.Sprintf("chain.rpc.endpoints[%d]", i), u)
	}
	if r.ChainID == 0 {
		k.add("chain.rpc.chain_id", "is required: the chain id (e.g. %d for the wardgate dev chain)", ledger.DevChainID)
	}
	if !addrRE.MatchString(r.Contract) {
		k.add("chain.rpc.contract", "%q is not a contract address; write 0x followed by 40 hex digits", r.Contract)
	}
	k.required("chain.rpc.keystore", r.Keystore, "the gateway account's go-ethereum keystore JSON file")
}

func checkRPCURL(k *checker, field, s string) {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		k.add(field, "%q is not an http(s) or ws(s) URL; write e.g. http://10.0.0.5:8545", s)
	}
}

// validateControl fills the control socket's defaults; any path and group
// will do (a missing group is reported at start, not here).
func (c *Config) validateControl(*checker) {
	if c.Control.Socket == "" {
		c.Control.Socket = control.DefaultSocket
	}
	if c.Control.Group == "" {
		c.Control.Group = control.DefaultGroup
	}
}

// validateAPI checks the report API: a listener needs all its TLS files,
// and TLS files need a listener.
func (c *Config) validateAPI(k *checker) {
	a := c.API
	if a.Listen != "" {
		k.hostPort("api.listen", a.Listen, "0.0.0.0:8443")
		k.required("api.tls_cert", a.TLSCert, "the API server's PEM certificate")
		k.required("api.tls_key", a.TLSKey, "the API server's PEM private key")
		k.required("api.client_ca", a.ClientCA, "the PEM CA of the security team's client certificates; requests without one are refused")
	} else if a.TLSCert != "" || a.TLSKey != "" || a.ClientCA != "" {
		k.add("api.listen", "is required when api TLS files are set, e.g. 0.0.0.0:8443 (or remove the api section to disable it)")
	}
}

func (c *Config) validateMetrics(k *checker) {
	m := c.Metrics
	if m.Listen != "" {
		k.hostPort("metrics.listen", m.Listen, "127.0.0.1:9090")
	}
	if m.TLSCert != "" || m.TLSKey != "" || m.ClientCA != "" {
		k.required("metrics.tls_cert", m.TLSCert, "the metrics listener's PEM certificate (metrics.tls_cert, tls_key and client_ca go together)")
		k.required("metrics.tls_key", m.TLSKey, "the metrics listener's PEM private key")
		k.required("metrics.client_ca", m.ClientCA, "the PEM CA of the scraper's client certificate")
	} else if m.Listen != "" && !LoopbackOnly(m.Listen) {
		k.add("metrics.listen", "%q is off loopback without client authentication (metrics name the peers): listen on 127.0.0.1, or set metrics.tls_cert, tls_key and client_ca for mTLS", m.Listen)
	}
}

// validateRecords checks records: the LAN listeners, where received
// records go, which peer HL7 messages go to, and the limits.
func (c *Config) validateRecords(k *checker) {
	c.validateRecordsLAN(k)
	c.validateRecordsDelivery(k)
	c.validateDeliver(k)
	c.validateMLLPRoutes(k)
	c.validateRecordsLimits(k)
	c.validateConsent(k)
}

// validateRecordsLAN checks the intake listeners; the TLS files go
// together, and with lan_listen.
func (c *Config) validateRecordsLAN(k *checker) {
	r := c.Records
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
	if r.MLLPTLS && r.TLSCert == "" {
		k.add("records.mllp_tls", "needs records.tls_cert, tls_key and client_ca (MLLPS uses the LAN listener's certificate and client CA)")
	}
	c.validateIntakeAuth(k)
}

// validateIntakeAuth refuses intake that any LAN host could use: a
// non-loopback lan_listen needs mTLS, a non-loopback mllp_listen needs
// mllp_tls, unless records.insecure_lan says otherwise.
func (c *Config) validateIntakeAuth(k *checker) {
	r := c.Records
	if r.InsecureLAN {
		return
	}
	if r.LANListen != "" && r.TLSCert == "" && !LoopbackOnly(r.LANListen) {
		k.add("records.lan_listen", "%q is reachable from the LAN without client authentication: set records.tls_cert, tls_key and client_ca (hospital systems then present a client certificate), listen on loopback, or set records.insecure_lan: true on a closed test network", r.LANListen)
	}
	if r.MLLPListen != "" && !r.MLLPTLS && !LoopbackOnly(r.MLLPListen) {
		k.add("records.mllp_listen", "%q is reachable from the LAN without client authentication: set records.mllp_tls: true (MLLPS, with records.tls_cert, tls_key and client_ca), listen on loopback, or set records.insecure_lan: true on a closed test network", r.MLLPListen)
	}
	for cn, peers := range r.ClientPeers {
		for _, p := range peers {
			if !c.hasPeer(p) {
				k.add("records.client_peers."+cn, "%q is not in peers; name one of the configured peers", p)
			}
		}
	}
}

func (c *Config) hasPeer(name string) bool {
	for _, p := range c.Peers {
		if p.Name == name {
			return true
		}
	}
	return false
}

// LoopbackOnly reports whether a host:port listens on loopback only.
func LoopbackOnly(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Warnings are settings that are valid but weaken the box; --check-config
// prints them and the daemon logs them at every start.
func (c *Config) Warnings() []string {
	r := c.Records
	var w []string
	if r.InsecureLAN && ((r.LANListen != "" && r.TLSCert == "" && !LoopbackOnly(r.LANListen)) ||
		(r.MLLPListen != "" && !r.MLLPTLS && !LoopbackOnly(r.MLLPListen))) {
		w = append(w, "records.insecure_lan: true: any host on the LAN can send records signed as this hospital, without a client certificate; use it on a closed test network only")
	}
	w = append(w, c.deliverWarnings()...)
	return w
}

// validateRecordsDelivery checks the one LAN endpoint received records go
// to: an HTTP URL or an MLLP address.
func (c *Config) validateRecordsDelivery(k *checker) {
	r := c.Records
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
			k.add("records.deliver_mllp", "is set together with records.deliver_url; each is a one-route shorthand: write both as routes in records.deliver (e.g. content: hl7v2 to mllp://..., any to the URL)")
		}
	}
}

// validateMLLPRoutes checks that HL7 routes name configured peers; the
// facilities are sorted so the errors come in a stable order.
func (c *Config) validateMLLPRoutes(k *checker) {
	r := c.Records
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
}

func (c *Config) validateRecordsLimits(k *checker) {
	r := &c.Records
	if r.MaxBody == 0 {
		r.MaxBody = records.DefaultMaxBody
	} else if r.MaxBody < 1 || r.MaxBody > 1<<30 {
		k.add("records.max_body", "%d is out of range; use 1..1073741824 bytes", r.MaxBody)
	}
	if r.PeerPort == 0 {
		r.PeerPort = DefaultPeerPort
	} else {
		k.port("records.peer_port", r.PeerPort, DefaultPeerPort)
	}
}
