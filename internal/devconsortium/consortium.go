// Package devconsortium is `wardgated --dev-consortium DIR`: it writes a
// complete development consortium for the demo and the integration tests:
// one config per box, a shared dev manufacturer CA, a vendor key, a signed
// firmware manifest that approves the boxes' simulated image and this very
// wardgated binary, and a policy. It runs `wardgated --identity` once per
// box (one simulator per process) to learn each box's EK for the others'
// enrollment lists. It is dev tooling, never part of a production box.
package devconsortium

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/gateway"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/tunnel"
)

type consortiumOpts struct {
	dir      string
	boxes    []string
	hosts    []string // underlay address per box (default 127.0.0.1)
	tamper   map[string]bool
	mode     tunnel.Mode
	basePort int
	interval string
	lifetime string
}

func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wardgated --dev-consortium", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dev-consortium", "", "directory to create the consortium in")
	boxes := fs.String("boxes", "a,b,c", "comma-separated box names")
	hosts := fs.String("hosts", "", "comma-separated underlay IPs, one per box (default 127.0.0.1 for all; set them for network namespaces)")
	tamper := fs.String("tamper", "", "comma-separated boxes that boot a kernel that is not in the manifest")
	mode := fs.String("tunnel", string(tunnel.ModeUserspace), "tunnel mode: userspace or tun")
	base := fs.Int("base-port", 17000, "first port; box i uses base+10i .. base+10i+6 (attestation, wireguard, records LAN, metrics, [MLLP], LAN sink, report API), the dev chain base+9")
	interval := fs.String("interval", "2s", "re-attestation interval")
	lifetime := fs.String("verdict-lifetime", "6s", "verdict lifetime")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o := consortiumOpts{dir: *dir, boxes: splitList(*boxes), hosts: splitList(*hosts), tamper: map[string]bool{},
		mode: tunnel.Mode(*mode), basePort: *base, interval: *interval, lifetime: *lifetime}
	for _, t := range splitList(*tamper) {
		o.tamper[t] = true
	}
	if err := makeConsortium(context.Background(), o, stdout); err != nil {
		fmt.Fprintf(stderr, "wardgated --dev-consortium: %v\n", err)
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// makeConsortium writes the whole consortium: shared keys and policy, each
// box's image and first config (to learn its EK), the manifest approving the
// untampered image, then every box's full config with the others as peers.
func makeConsortium(ctx context.Context, o consortiumOpts, stdout io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	for _, d := range []string{"roots", "vendor", "manifests", "dev-ca", "api"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	vendorKey, err := writeVendorKeyAndPolicy(dir)
	if err != nil {
		return err
	}
	pki, err := newDevPKI(filepath.Join(dir, "api"))
	if err != nil {
		return fmt.Errorf("api certificates: %w", err)
	}
	cfgs, ids, err := prepareBoxes(ctx, o, dir, pki)
	if err != nil {
		return err
	}
	if err := publishDevCA(dir); err != nil {
		return err
	}
	if err := writeManifest(dir, o, ids, vendorKey); err != nil {
		return err
	}
	if err := writePeerConfigs(dir, o, cfgs, ids); err != nil {
		return err
	}
	printConsortium(stdout, dir, o, ids)
	return nil
}

// check refuses options that cannot make a consortium, and defaults every
// box's host to loopback.
func (o *consortiumOpts) check() error {
	if o.dir == "" {
		return errors.New("give a directory")
	}
	if len(o.boxes) < 2 {
		return errors.New("--boxes needs at least two boxes")
	}
	if len(o.hosts) == 0 {
		for range o.boxes {
			o.hosts = append(o.hosts, "127.0.0.1")
		}
	}
	if len(o.hosts) != len(o.boxes) {
		return fmt.Errorf("--hosts has %d entries for %d boxes", len(o.hosts), len(o.boxes))
	}
	if o.basePort+10*len(o.boxes) > 65535 || o.basePort < 1024 {
		return fmt.Errorf("--base-port %d leaves no room for %d boxes", o.basePort, len(o.boxes))
	}
	return nil
}

// writeVendorKeyAndPolicy writes the vendor's signing key pair and the
// consortium's appraisal policy, and returns the key that signs manifests.
func writeVendorKeyAndPolicy(dir string) (ed25519.PrivateKey, error) {
	vpub, vpriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	pkix, _ := x509.MarshalPKIXPublicKey(vpub)
	pk8, _ := x509.MarshalPKCS8PrivateKey(vpriv)
	if err := os.WriteFile(filepath.Join(dir, "vendor/vendor.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "vendor/vendor.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("# Consortium appraisal policy.\nversion: dev-consortium-1\n# pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]   # default\n# required_components: []               # default: every component the manifests name\n"), 0o644); err != nil {
		return nil, err
	}
	return vpriv, nil
}

// prepareBoxes writes each box's image, API server certificate and config
// without peers, and learns each box's identity from it.
func prepareBoxes(ctx context.Context, o consortiumOpts, dir string, pki *devPKI) (map[string]*config.Config, map[string]*gateway.Identity, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cfgs := map[string]*config.Config{}
	ids := map[string]*gateway.Identity{}
	for i, b := range o.boxes {
		bd := filepath.Join(dir, b)
		if err := writeImage(filepath.Join(bd, "image"), o.tamper[b]); err != nil {
			return nil, nil, err
		}
		c := boxConfig(o, i, dir)
		cfgs[b] = c
		if err := pki.issue(filepath.Join(bd, "api-server"), b, []net.IP{net.ParseIP(o.hosts[i])}, x509.ExtKeyUsageServerAuth); err != nil {
			return nil, nil, err
		}
		path := filepath.Join(bd, "wardgate.yaml")
		if err := writeConfig(path, c, ""); err != nil {
			return nil, nil, err
		}
		if ids[b], err = learnIdentity(ctx, self, path, b); err != nil {
			return nil, nil, err
		}
	}
	return cfgs, ids, nil
}

// writeImage writes a box's simulated firmware image: the approved
// bootloader and kernel, or a kernel with an unapproved module.
func writeImage(dir string, tampered bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	kernel := []byte("wardgate appliance kernel 6.12.9 (approved)\n")
	if tampered {
		kernel = []byte("wardgate appliance kernel 6.12.9 + unapproved module\n")
	}
	files := map[string][]byte{
		"bootloader.bin": []byte("wardgate appliance bootloader 2.1.0\n"),
		"kernel.bin":     kernel,
	}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// learnIdentity runs `wardgated --identity` on the box's config in a child
// process (one simulated TPM per process) for its EK and measurements.
func learnIdentity(ctx context.Context, self, cfgPath, box string) (*gateway.Identity, error) {
	cmd := exec.CommandContext(ctx, self, "--config", cfgPath, "--identity")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("identity of box %s: %w\n%s", box, err, errb.String())
	}
	id := new(gateway.Identity)
	if err := json.Unmarshal(out.Bytes(), id); err != nil {
		return nil, fmt.Errorf("identity of box %s: %w", box, err)
	}
	return id, nil
}

// publishDevCA puts the dev manufacturer CA, which the boxes' `--identity`
// runs created and issued their EK certificates from, among the roots every
// verifier trusts.
func publishDevCA(dir string) error {
	ca, err := os.ReadFile(filepath.Join(dir, "dev-ca", "ca.pem"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "roots", "wardgate-dev-ca.pem"), ca, 0o644)
}

// writeManifest signs a manifest that approves the untampered image and
// this wardgated binary, as measured by the first untampered box.
func writeManifest(dir string, o consortiumOpts, ids map[string]*gateway.Identity, vendorKey ed25519.PrivateKey) error {
	var ref *gateway.Identity
	for _, b := range o.boxes {
		if !o.tamper[b] {
			ref = ids[b]
			break
		}
	}
	if ref == nil {
		return errors.New("every box is tampered; nothing to approve")
	}
	m := &firmware.Manifest{Vendor: "wardgate-dev", Version: "1.0", Components: ref.Components}
	mj, sig, err := firmware.SignManifest(m, vendorKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifests/firmware-1.0.json"), mj, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "manifests/firmware-1.0.sig"), sig, 0o644)
}

// writePeerConfigs rewrites each box's config with every other box as a
// peer, enrolled by the EK it reported, and checks that it loads.
func writePeerConfigs(dir string, o consortiumOpts, cfgs map[string]*config.Config, ids map[string]*gateway.Identity) error {
	for i, b := range o.boxes {
		c := cfgs[b]
		for j, p := range o.boxes {
			if j != i {
				c.Peers = append(c.Peers, peerConfig(o, j, ids[p]))
			}
		}
		note := ""
		if o.tamper[b] {
			note = "# This box boots a kernel that is not in the manifest: its peers refuse it.\n"
		}
		path := filepath.Join(dir, b, "wardgate.yaml")
		if err := writeConfig(path, c, note); err != nil {
			return err
		}
		if _, err := config.Load(path); err != nil {
			return fmt.Errorf("generated config %s does not load: %w", path, err)
		}
	}
	return nil
}

// peerConfig is box j as its peers see it.
func peerConfig(o consortiumOpts, j int, id *gateway.Identity) config.Peer {
	return config.Peer{
		Name:              o.boxes[j],
		Endpoint:          net.JoinHostPort(o.hosts[j], strconv.Itoa(o.basePort+10*j)),
		WireGuardEndpoint: net.JoinHostPort(o.hosts[j], strconv.Itoa(o.basePort+10*j+1)),
		EK:                id.EK,
		AllowedIPs:        []string{fmt.Sprintf("10.77.0.%d/32", j+1)},
	}
}

func printConsortium(stdout io.Writer, dir string, o consortiumOpts, ids map[string]*gateway.Identity) {
	fmt.Fprintf(stdout, "dev consortium in %s:\n", dir)
	for _, b := range o.boxes {
		fmt.Fprintf(stdout, "  %s: wardgated --config %s   (EK %s)\n", b, filepath.Join(dir, b, "wardgate.yaml"), ids[b].EK)
	}
	fmt.Fprintf(stdout, "start %s first: it serves the dev chain the others join.\n", o.boxes[0])
	fmt.Fprintf(stdout, "report API client certificate: %s (key %s, CA %s)\n",
		filepath.Join(dir, "api", "client.pem"), filepath.Join(dir, "api", "client-key.pem"), filepath.Join(dir, "api", "ca.pem"))
	fmt.Fprintf(stdout, "records intake (mTLS) client certificate: %s (key %s, CA %s)\n",
		filepath.Join(dir, "api", "ehr.pem"), filepath.Join(dir, "api", "ehr-key.pem"), filepath.Join(dir, "api", "ca.pem"))
}

// boxConfig is box i's config without peers. Ports: base+10i is the
// attestation listener, +1 WireGuard, +2 records LAN, +3 metrics, +4 left
// for an MLLP intake, +6 the report API (mTLS; the team's client cert is
// DIR/api/client.pem), +5 the
// LAN sink the relay delivers to (the test's or demo's receiver); the dev
// chain is served by box 0 on base+9.
func boxConfig(o consortiumOpts, i int, dir string) *config.Config {
	b, host := o.boxes[i], o.hosts[i]
	port := func(off int) string { return net.JoinHostPort(host, strconv.Itoa(o.basePort+10*i+off)) }
	bd := filepath.Join(dir, b)
	return &config.Config{
		Box:      b,
		StateDir: filepath.Join(bd, "state"),
		TPM:      config.TPM{Source: config.TPMSimulator, DevCA: filepath.Join(dir, "dev-ca")},
		Firmware: config.Firmware{Image: []config.Component{
			{Name: "bootloader", Version: "2.1.0", File: filepath.Join(bd, "image", "bootloader.bin"), PCR: 4},
			{Name: "kernel", Version: "6.12.9", File: filepath.Join(bd, "image", "kernel.bin"), PCR: 4},
		}},
		Tunnel: config.Tunnel{Mode: o.mode, Interface: "wg-" + b, ListenPort: o.basePort + 10*i + 1, Address: fmt.Sprintf("10.77.0.%d/24", i+1)},
		Attestation: config.Attestation{
			Listen: port(0), Interval: o.interval, VerdictLifetime: o.lifetime,
			ManufacturerRoots: filepath.Join(dir, "roots"),
			Manifests:         []config.Manifest{{Path: filepath.Join(dir, "manifests/firmware-1.0.json"), Signature: filepath.Join(dir, "manifests/firmware-1.0.sig")}},
			VendorKeys:        []string{filepath.Join(dir, "vendor/vendor.pub")},
			Policy:            filepath.Join(dir, "policy.yaml"),
		},
		Chain: config.Chain{Mode: config.ChainEmbedded, CheckpointInterval: "2s", Embedded: config.Embedded{
			Serve: i == 0, Host: o.hosts[0], Port: o.basePort + 9, Wait: "60s",
		}},
		Control: config.Control{Socket: filepath.Join(bd, "control.sock")},
		Metrics: devMetrics(port(3), bd, dir),
		API: config.API{Listen: port(6), TLSCert: filepath.Join(bd, "api-server.pem"), TLSKey: filepath.Join(bd, "api-server-key.pem"),
			ClientCA: filepath.Join(dir, "api", "ca.pem")},
		// Records intake is mTLS, as on a hospital LAN: the EHR presents
		// DIR/api/ehr.pem; the box serves its API server certificate.
		Records: config.Records{LANListen: port(2), DeliverURL: "http://" + port(5) + "/records",
			TLSCert: filepath.Join(bd, "api-server.pem"), TLSKey: filepath.Join(bd, "api-server-key.pem"), ClientCA: filepath.Join(dir, "api", "ca.pem")},
	}
}

// devMetrics serves metrics plainly on loopback; off loopback (network
// namespaces) over mTLS, scraped with the security team's certificate.
func devMetrics(listen, bd, dir string) config.Metrics {
	m := config.Metrics{Listen: listen}
	if !config.LoopbackOnly(listen) {
		m.TLSCert, m.TLSKey = filepath.Join(bd, "api-server.pem"), filepath.Join(bd, "api-server-key.pem")
		m.ClientCA = filepath.Join(dir, "api", "ca.pem")
	}
	return m
}

func writeConfig(path string, c *config.Config, note string) error {
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	hdr := fmt.Sprintf("# wardgate.yaml for box %s, generated by `wardgated --dev-consortium` on %s.\n# Development only: simulated TPM, dev manufacturer CA, dev vendor key.\n%s",
		c.Box, time.Now().UTC().Format(time.RFC3339), note)
	return os.WriteFile(path, append([]byte(hdr), b...), 0o644)
}

// devPKI is the security team's CA for the report API: one server
// certificate per box and one client certificate for the team.
type devPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newDevPKI(dir string) (*devPKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wardgate dev security team CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	p := &devPKI{cert: cert, key: key}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := p.issue(filepath.Join(dir, "client"), "security-team", nil, x509.ExtKeyUsageClientAuth); err != nil {
		return nil, err
	}
	// The hospital systems' client certificate for records intake (HTTP
	// and MLLPS). A real hospital uses its own CA as records.client_ca.
	return p, p.issue(filepath.Join(dir, "ehr"), "ehr", nil, x509.ExtKeyUsageClientAuth)
}

// issue writes base.pem and base-key.pem.
func (p *devPKI) issue(base, cn string, ips []net.IP, usage x509.ExtKeyUsage) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, IPAddresses: ips, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+"-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}
