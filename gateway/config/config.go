// Package config is the schema of /etc/wardgate/wardgate.yaml, its strict
// parser and its validation.
//
// Load reads the file, rejects unknown keys, and validates the whole file at
// once: every problem is reported together, each naming its key path
// (peers[1].allowed_ips[0]) and the fix, so the daemon never half-starts on
// a config it only partly understands. Values that need parsing (durations,
// CIDRs, host:port) are kept as the strings the operator wrote, so a config
// can be generated from these structs and marshalled back; the parsed forms
// are returned by accessor methods once Validate has passed.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/records/consent"
	"github.com/wardgate/wardgate/tunnel"
)

// MaxFileSize bounds the config file; a real one is a few KiB.
const MaxFileSize = 1 << 20

// DefaultPath is where the daemon and the CLI look without --config.
const DefaultPath = "/etc/wardgate/wardgate.yaml"

// Config is the whole wardgate.yaml.
type Config struct {
	// Box is this box's name; peers refer to it by this name.
	Box string `yaml:"box"`
	// StateDir holds the TPM seed (simulator), sealed keys, the journal
	// and the embedded chain.
	StateDir string `yaml:"state_dir"`
	// Log sets the daemon's log output.
	Log Log `yaml:"log,omitempty"`

	TPM         TPM         `yaml:"tpm"`
	Firmware    Firmware    `yaml:"firmware,omitempty"`
	Tunnel      Tunnel      `yaml:"tunnel"`
	Attestation Attestation `yaml:"attestation"`
	Peers       []Peer      `yaml:"peers"`
	Chain       Chain       `yaml:"chain"`
	Control     Control     `yaml:"control,omitempty"`
	API         API         `yaml:"api,omitempty"`
	Metrics     Metrics     `yaml:"metrics,omitempty"`
	Records     Records     `yaml:"records,omitempty"`
	Audit       Audit       `yaml:"audit,omitempty"`
	Witness     Witness     `yaml:"witness,omitempty"`
	Relay       Relay       `yaml:"relay,omitempty"` // the NAT relay (relay.go)

	// base is the directory relative paths are resolved against.
	base string
	p    parsed
}

// parsed holds the typed forms of the string fields, filled by Validate.
type parsed struct {
	ok              bool
	interval        time.Duration
	verdictLifetime time.Duration
	nonceTTL        time.Duration
	tunnelAddr      netip.Prefix
	lanRoutes       []netip.Prefix
	period          time.Duration
	peers           map[string]parsedPeer
}

type parsedPeer struct {
	endpoint   string // host:port
	wgEndpoint netip.AddrPort
	allowed    []netip.Prefix
}

// Log sets the log level and format.
type Log struct {
	Level  string `yaml:"level,omitempty"`  // debug | info (default) | warn | error
	Format string `yaml:"format,omitempty"` // text (default) | json
}

// TPM says where the box's TPM is.
type TPM struct {
	// Source is simulator (in-process go-tpm-tools simulator, seeded from
	// state_dir), swtpm (TCP) or device (/dev/tpmrm0).
	Source  TPMSource `yaml:"source"`
	Path    string    `yaml:"path,omitempty"`    // device: default /dev/tpmrm0
	Address string    `yaml:"address,omitempty"` // swtpm: host:port of the command channel
	// CtrlAddress is swtpm's control channel (default: address port + 1);
	// the daemon power-cycles the swtpm through it at start, as a boot.
	CtrlAddress string `yaml:"ctrl_address,omitempty"`
	// DevCA is the directory of the development manufacturer CA that
	// issues an EK certificate to a simulated TPM (swtpm and simulator
	// only). Put its ca.pem in attestation.manufacturer_roots of every box.
	DevCA string `yaml:"dev_ca,omitempty"`
	// Simulator models a discrete TPM's timing (scale.go).
	Simulator TPMTiming `yaml:"simulator,omitempty"`
}

// TPMSource is where the box's TPM is. Its home is the config: the
// operator chooses it here and only the gateway branches on it, while
// attest reports a TPM's kind as a plain label and must not import the
// config (dependencies point from gateway down to attest).
type TPMSource string

// TPM sources.
const (
	TPMSimulator TPMSource = "simulator" // in-process go-tpm-tools simulator
	TPMSwtpm     TPMSource = "swtpm"     // swtpm over TCP
	TPMDevice    TPMSource = "device"    // the box's TPM, /dev/tpmrm0
)

// TPMSources lists the valid sources, in the order error messages give them.
func TPMSources() []TPMSource { return []TPMSource{TPMSimulator, TPMSwtpm, TPMDevice} }

// Firmware is what the box boots.
type Firmware struct {
	// EventLog is the TCG event log of a real box (device source); default
	// /sys/kernel/security/tpm0/binary_bios_measurements.
	EventLog string `yaml:"event_log,omitempty"`
	// Image is the firmware image a simulated TPM plays back at start,
	// component by component; the wardgated binary itself is measured last.
	Image []Component `yaml:"image,omitempty"`
}

// Component is one measured part of a simulated boot. Exactly one of File
// (hashed at start) and SHA256 (hex) gives its digest.
type Component struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version,omitempty"`
	File    string `yaml:"file,omitempty"`
	SHA256  string `yaml:"sha256,omitempty"`
	// PCR is where it is measured (0..15); default 0.
	PCR int `yaml:"pcr,omitempty"`
}

// Tunnel is the WireGuard device.
type Tunnel struct {
	Mode       tunnel.Mode `yaml:"mode"`                // tun | userspace
	Interface  string      `yaml:"interface,omitempty"` // tun name, default wg-wardgate
	ListenPort int         `yaml:"listen_port"`         // UDP
	Address    string      `yaml:"address"`             // this box's tunnel address as CIDR
	MTU        int         `yaml:"mtu,omitempty"`       // default 1420
	LANRoutes  []string    `yaml:"lan_routes,omitempty"`
}

// Attestation is the mutual attestation protocol and the verifier's trust.
type Attestation struct {
	Listen          string `yaml:"listen"`                     // host:port, HTTPS
	Interval        string `yaml:"interval,omitempty"`         // re-attestation, default 30s
	VerdictLifetime string `yaml:"verdict_lifetime,omitempty"` // default 3 x interval
	NonceTTL        string `yaml:"nonce_ttl,omitempty"`        // default 30s
	// ManufacturerRoots is a directory of PEM CA certificates that EK
	// certificates must chain to.
	ManufacturerRoots string `yaml:"manufacturer_roots"`
	// Enrollment lists EK identities by box name, for boxes whose ek is
	// not given in peers.
	Enrollment []Enrolled `yaml:"enrollment,omitempty"`
	Manifests  []Manifest `yaml:"manifests"`
	// VendorKeys are files holding the firmware vendors' Ed25519 public
	// keys (PEM "PUBLIC KEY" or hex) that sign the manifests.
	VendorKeys []string `yaml:"vendor_keys"`
	// Policy is a policy file; empty uses the built-in default policy.
	Policy string `yaml:"policy,omitempty"`
	// BatchWindow, Runtime: one quote per window for all peers, and the
	// runtime (IMA) appraisal (scale.go).
	BatchWindow string   `yaml:"batch_window,omitempty"`
	Runtime     *Runtime `yaml:"runtime,omitempty"`
}

// Enrolled is one enrollment-list entry.
type Enrolled struct {
	Name string `yaml:"name"`
	EK   string `yaml:"ek"` // sha256:<64 hex>
}

// Manifest is a signed firmware reference manifest.
type Manifest struct {
	Path      string `yaml:"path"`
	Signature string `yaml:"signature"`
}

// Peer is another hospital's box.
type Peer struct {
	Name string `yaml:"name"`
	// Endpoint is the peer's attestation listener on the underlay (host:port).
	Endpoint string `yaml:"endpoint"`
	// WireGuardEndpoint is the peer's WireGuard UDP ip:port on the underlay.
	WireGuardEndpoint string   `yaml:"wireguard_endpoint"`
	EK                string   `yaml:"ek,omitempty"` // sha256:<64 hex>
	AllowedIPs        []string `yaml:"allowed_ips"`
	// Organization is the peer hospital's organisation identifier, as
	// Consent resources name it in provision.actor: the consent gate
	// releases a patient's records to this peer only if a Consent names it.
	Organization string `yaml:"organization,omitempty"`
	// Via is the path to the peer: direct (default), relay or auto.
	Via Via `yaml:"via,omitempty"`
}

// Chain is where checkpoints are anchored.
type Chain struct {
	Mode ChainMode `yaml:"mode"` // embedded | rpc | none
	// MinDepth is how many blocks, counting the anchor block, a checkpoint's
	// anchor needs before its receipts say anchored: 1 (the default) on BFT
	// chains with immediate finality (Besu QBFT), 2 or more on Clique.
	MinDepth uint64   `yaml:"min_depth,omitempty"`
	Embedded Embedded `yaml:"embedded,omitempty"`
	RPC      RPC      `yaml:"rpc,omitempty"`
	// CheckpointInterval is how often the log signs a checkpoint (default 5s).
	CheckpointInterval string `yaml:"checkpoint_interval,omitempty"`
}

// ChainMode is where checkpoints are anchored. Its home is the config, not
// ledger: the ledger takes an opened *ledger.Chain, or none, and never
// branches on a mode ("none" is not a chain at all); only the gateway,
// composing the parts, does.
type ChainMode string

// Chain modes.
const (
	ChainEmbedded ChainMode = "embedded" // the in-process dev chain
	ChainRPC      ChainMode = "rpc"      // an external JSON-RPC chain
	ChainNone     ChainMode = "none"     // journal only, nothing anchored
)

// ChainModes lists the valid modes, in the order error messages give them.
func ChainModes() []ChainMode { return []ChainMode{ChainEmbedded, ChainRPC, ChainNone} }

// Embedded is the in-process dev chain. Exactly one box of a local
// consortium serves it (serve: true); the others join it on host:port.
type Embedded struct {
	Serve bool   `yaml:"serve,omitempty"`
	Host  string `yaml:"host,omitempty"` // default 127.0.0.1
	Port  int    `yaml:"port,omitempty"` // default 8545
	// Period is the block period; 0 seals a block per transaction.
	Period string `yaml:"period,omitempty"`
	// PassphraseFile encrypts this box's gateway key; empty uses no passphrase (dev only).
	PassphraseFile string `yaml:"passphrase_file,omitempty"`
	Confirmations  uint64 `yaml:"confirmations,omitempty"`
	// Wait bounds how long a joining box waits for the serving box (default 60s).
	Wait string `yaml:"wait,omitempty"`
}

// RPC is an external JSON-RPC chain (Besu QBFT in production).
type RPC struct {
	URL string `yaml:"url,omitempty"`
	// Endpoints are the chain's JSON-RPC URLs, one per consortium validator
	// or RPC node (url, if set, is tried first). The box fails over between
	// them and reports each one's health.
	Endpoints      []string `yaml:"endpoints,omitempty"`
	ChainID        uint64   `yaml:"chain_id,omitempty"`
	Contract       string   `yaml:"contract,omitempty"` // 0x + 40 hex
	Keystore       string   `yaml:"keystore,omitempty"`
	PassphraseFile string   `yaml:"passphrase_file,omitempty"`
	Confirmations  uint64   `yaml:"confirmations,omitempty"`
}

// Control is the local unix control socket of the wardgate CLI.
type Control struct {
	Socket string `yaml:"socket,omitempty"` // default /run/wardgate/control.sock
	Group  string `yaml:"group,omitempty"`  // default wardgate; ignored if the group does not exist
}

// API is the security team's read-only report API behind mutual TLS.
// Empty listen disables it.
type API struct {
	Listen   string `yaml:"listen,omitempty"`
	TLSCert  string `yaml:"tls_cert,omitempty"`
	TLSKey   string `yaml:"tls_key,omitempty"`
	ClientCA string `yaml:"client_ca,omitempty"`
}

// Metrics is the Prometheus listener. Empty listen disables it.
type Metrics struct {
	// Listen is host:port; off loopback it needs the TLS files (metrics
	// name the peers).
	Listen string `yaml:"listen,omitempty"`
	// TLSCert, TLSKey and ClientCA serve metrics over mutual TLS: the
	// scraper presents a certificate from ClientCA. Set all three or none.
	TLSCert  string `yaml:"tls_cert,omitempty"`
	TLSKey   string `yaml:"tls_key,omitempty"`
	ClientCA string `yaml:"client_ca,omitempty"`
}

// Records is the record relay.
type Records struct {
	// LANListen is where hospital systems POST records (host:port, HTTP).
	LANListen string `yaml:"lan_listen,omitempty"`
	// TLSCert, TLSKey and ClientCA turn lan_listen into HTTPS with mutual
	// TLS: only hospital systems holding a certificate from ClientCA may
	// hand over records. Set all three or none.
	TLSCert  string `yaml:"tls_cert,omitempty"`
	TLSKey   string `yaml:"tls_key,omitempty"`
	ClientCA string `yaml:"client_ca,omitempty"`
	// MLLPListen accepts HL7 v2 over MLLP (host:port); empty disables.
	MLLPListen string `yaml:"mllp_listen,omitempty"`
	// MLLPTLS serves mllp_listen as MLLPS: TLS with client certificates
	// from client_ca (needs tls_cert, tls_key and client_ca).
	MLLPTLS bool `yaml:"mllp_tls,omitempty"`
	// InsecureLAN lets lan_listen and mllp_listen on a non-loopback
	// address take records without client certificates. Any host on the
	// LAN could then send records signed as this hospital: for a closed
	// test network only. --check-config and every start warn about it.
	InsecureLAN bool `yaml:"insecure_lan,omitempty"`
	// ClientPeers limits a client certificate, by its subject common
	// name, to the peers it may send to; a subject not listed may send to
	// any peer.
	ClientPeers map[string][]string `yaml:"client_peers,omitempty"`
	// DeliverURL receives records from peers (HTTP POST); DeliverMLLP is
	// the HL7 engine's MLLP host:port.
	DeliverURL  string `yaml:"deliver_url,omitempty"`
	DeliverMLLP string `yaml:"deliver_mllp,omitempty"`
	// DeliverFHIRBatch hands the FHIR records of each peer batch to
	// deliver_url as one FHIR batch Bundle (deliver_url is then the FHIR
	// server's base URL); other records are still POSTed one by one.
	DeliverFHIRBatch bool `yaml:"deliver_fhir_batch,omitempty"`
	// Deliver routes each received record to the hospital system that
	// takes it (deliver.go); deliver_url and deliver_mllp are the
	// one-route shorthands.
	Deliver []DeliverRoute `yaml:"deliver,omitempty"`
	// MLLPRoutes maps an HL7 receiving facility (MSH-6) to a peer;
	// MLLPPeer takes HL7 messages no route matches.
	MLLPRoutes map[string]string `yaml:"mllp_routes,omitempty"`
	MLLPPeer   string            `yaml:"mllp_peer,omitempty"`
	// MaxBody bounds one record in bytes (default 16 MiB).
	MaxBody int64 `yaml:"max_body,omitempty"`
	// PeerPort is the TCP port on each box's tunnel address where peers'
	// relays deliver records (default 7400).
	PeerPort int `yaml:"peer_port,omitempty"`
	// Consent is the consent gate: off (default), audit (log what would be
	// refused, forward it) or required (refuse records without consent).
	Consent consent.Mode `yaml:"consent,omitempty"`
	// Purpose is the purpose of use of records that name none (a Purpose
	// header on the LAN API); default TREAT. HL7 v2 records always take it.
	Purpose string `yaml:"purpose,omitempty"`
	// ConsentFHIRURL, if set, is the EHR's FHIR server base URL: the gate
	// also reads each patient's Consents there (GET [base]/Consent?patient=),
	// cached for 30 s; a failed lookup refuses the record.
	ConsentFHIRURL string `yaml:"consent_fhir_url,omitempty"`
}

// Load reads, parses and validates path, resolving relative paths against
// the file's directory. The error lists every problem (see Errors).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes; is it the right file?", path, MaxFileSize)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, filepath.Dir(abs))
	if err != nil {
		return c, err
	}
	if err := c.CheckFiles(); err != nil {
		return c, err
	}
	return c, nil
}

// Parse decodes data strictly and validates it, without touching the file
// system; base resolves relative paths (empty: the working directory).
// On error the returned config holds what was decoded, for diagnostics.
func Parse(data []byte, base string) (c *Config, err error) {
	defer func() {
		if r := recover(); r != nil { // never panic on input, whatever the YAML library does
			c, err = nil, Errors{{Path: "(file)", Msg: fmt.Sprintf("cannot be parsed: %v", r)}}
		}
	}()
	if len(data) > MaxFileSize {
		return nil, Errors{{Path: "(file)", Msg: fmt.Sprintf("is larger than %d bytes", MaxFileSize)}}
	}
	c = &Config{base: base}
	var errs Errors
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		var te *yaml.TypeError
		switch {
		case errors.Is(err, io.EOF):
			return nil, Errors{{Path: "(file)", Msg: "is empty; start from configs/wardgate.yaml"}}
		case errors.As(err, &te):
			errs = append(errs, typeErrors(data, te)...)
		default:
			return nil, Errors{{Path: "(file)", Msg: fmt.Sprintf("is not valid YAML: %v", err)}}
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		errs = append(errs, Error{Path: "(file)", Msg: "holds more than one YAML document; keep one"})
	}
	c.resolvePaths()
	typed := map[string]bool{}
	for _, e := range errs {
		typed[e.Path] = true
	}
	for _, e := range c.validate() {
		if !typed[e.Path] { // the type error already explains this key
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return c, errs
	}
	c.p.ok = true
	return c, nil
}

// Marshal renders the config as YAML (for generated test and demo configs).
func (c *Config) Marshal() ([]byte, error) { return yaml.Marshal(c) }

// Validate checks the config (a generated one, say) as Parse does.
func (c *Config) Validate() error {
	if errs := c.validate(); len(errs) > 0 {
		return errs
	}
	c.p.ok = true
	return nil
}

func (c *Config) mustParsed() {
	if !c.p.ok {
		panic("config: accessor called before Validate passed")
	}
}

// Interval is the re-attestation interval.
func (c *Config) Interval() time.Duration { c.mustParsed(); return c.p.interval }

// VerdictLifetime is how long a passing verdict admits a peer.
func (c *Config) VerdictLifetime() time.Duration { c.mustParsed(); return c.p.verdictLifetime }

// NonceTTL is how long a verifier nonce stays usable.
func (c *Config) NonceTTL() time.Duration { c.mustParsed(); return c.p.nonceTTL }

// TunnelAddress is this box's tunnel address.
func (c *Config) TunnelAddress() netip.Prefix { c.mustParsed(); return c.p.tunnelAddr }

// LANRoutes are the LAN prefixes routed into the tunnel.
func (c *Config) LANRoutes() []netip.Prefix { c.mustParsed(); return c.p.lanRoutes }

// ChainPeriod is the embedded chain's block period.
func (c *Config) ChainPeriod() time.Duration { c.mustParsed(); return c.p.period }

// CheckpointInterval is how often the ledger signs a checkpoint.
func (c *Config) CheckpointInterval() time.Duration {
	c.mustParsed()
	d, _ := time.ParseDuration(c.Chain.CheckpointInterval)
	return d
}

// EmbeddedWait bounds how long a joining box waits for the served dev chain.
func (c *Config) EmbeddedWait() time.Duration {
	c.mustParsed()
	d, _ := time.ParseDuration(c.Chain.Embedded.Wait)
	return d
}

// PeerAllowedIPs returns the parsed allowed IPs of a configured peer.
func (c *Config) PeerAllowedIPs(name string) []netip.Prefix {
	c.mustParsed()
	return c.p.peers[name].allowed
}

// PeerWireGuardEndpoint returns the parsed WireGuard endpoint of a peer.
func (c *Config) PeerWireGuardEndpoint(name string) netip.AddrPort {
	c.mustParsed()
	return c.p.peers[name].wgEndpoint
}

// Peer returns the configured peer by name.
func (c *Config) Peer(name string) (Peer, bool) {
	for _, p := range c.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}

// EnrollmentMap is box name -> EK fingerprint, from peers[].ek and
// attestation.enrollment.
func (c *Config) EnrollmentMap() map[string]string {
	m := make(map[string]string)
	for _, e := range c.Attestation.Enrollment {
		m[e.Name] = normEK(e.EK)
	}
	for _, p := range c.Peers {
		if p.EK != "" {
			m[p.Name] = normEK(p.EK)
		}
	}
	return m
}

// resolvePaths makes every file path absolute against the config's dir.
func (c *Config) resolvePaths() {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) && c.base != "" {
			*p = filepath.Join(c.base, *p)
		}
	}
	abs(&c.StateDir)
	abs(&c.TPM.DevCA)
	abs(&c.Firmware.EventLog)
	for i := range c.Firmware.Image {
		abs(&c.Firmware.Image[i].File)
	}
	abs(&c.Attestation.ManufacturerRoots)
	abs(&c.Attestation.Policy)
	c.resolveRuntimePaths(abs)
	for i := range c.Attestation.Manifests {
		abs(&c.Attestation.Manifests[i].Path)
		abs(&c.Attestation.Manifests[i].Signature)
	}
	for i := range c.Attestation.VendorKeys {
		abs(&c.Attestation.VendorKeys[i])
	}
	abs(&c.Chain.Embedded.PassphraseFile)
	abs(&c.Chain.RPC.Keystore)
	abs(&c.Chain.RPC.PassphraseFile)
	abs(&c.Control.Socket)
	abs(&c.API.TLSCert)
	abs(&c.API.TLSKey)
	abs(&c.API.ClientCA)
	abs(&c.Metrics.TLSCert)
	abs(&c.Metrics.TLSKey)
	abs(&c.Metrics.ClientCA)
	c.resolveRelayPaths(abs)
	c.resolveDeliverPaths(abs)
	abs(&c.Records.TLSCert)
	abs(&c.Records.TLSKey)
	abs(&c.Records.ClientCA)
	c.resolveAuditPaths(abs)
}

// LoadPartial loads a config for `wardgated --identity`: only the keys that
// identify the box (box, state_dir, log, tpm, firmware) must be valid, since
// the peers' EK identities may not be known yet.
func LoadPartial(path string) (*Config, error) {
	c, err := Load(path)
	var es Errors
	if err == nil || !errors.As(err, &es) || c == nil {
		return c, err
	}
	var keep Errors
	for _, e := range es {
		for _, p := range []string{"(file)", "box", "state_dir", "log", "tpm", "firmware"} {
			if e.Path == p || strings.HasPrefix(e.Path, p+".") || strings.HasPrefix(e.Path, p+"[") {
				keep = append(keep, e)
				break
			}
		}
	}
	if len(keep) > 0 {
		return c, keep
	}
	return c, nil
}
