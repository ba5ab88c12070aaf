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

func makeConsortium(ctx context.Context, o consortiumOpts, stdout io.Writer) error {
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
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	for _, d := range []string{"roots", "vendor", "manifests", "dev-ca", "api"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	// Vendor key and policy.
	vpub, vpriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pkix, _ := x509.MarshalPKIXPublicKey(vpub)
	pk8, _ := x509.MarshalPKCS8PrivateKey(vpriv)
	if err := os.WriteFile(filepath.Join(dir, "vendor/vendor.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "vendor/vendor.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("# Consortium appraisal policy.\nversion: dev-consortium-1\n# pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]   # default\n# required_components: []               # default: every component the manifests name\n"), 0o644); err != nil {
		return err
	}

	pki, err := newDevPKI(filepath.Join(dir, "api"))
	if err != nil {
		return fmt.Errorf("api certificates: %w", err)
	}
	cfgs := map[string]*config.Config{}
	ids := map[string]*gateway.Identity{}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for i, b := range o.boxes {
		bd := filepath.Join(dir, b)
		if err := os.MkdirAll(filepath.Join(bd, "image"), 0o755); err != nil {
			return err
		}
		kernel := []byte("wardgate appliance kernel 6.12.9 (approved)\n")
		if o.tamper[b] {
			kernel = []byte("wardgate appliance kernel 6.12.9 + unapproved module\n")
		}
		files := map[string][]byte{
			"bootloader.bin": []byte("wardgate appliance bootloader 2.1.0\n"),
			"kernel.bin":     kernel,
		}
		for n, data := range files {
			if err := os.WriteFile(filepath.Join(bd, "image", n), data, 0o644); err != nil {
				return err
			}
		}
		c := boxConfig(o, i, dir)
		cfgs[b] = c
		if err := pki.issue(filepath.Join(bd, "api-server"), b, []net.IP{net.ParseIP(o.hosts[i])}, x509.ExtKeyUsageServerAuth); err != nil {
			return err
		}
		if err := writeConfig(filepath.Join(bd, "wardgate.yaml"), c, ""); err != nil {
			return err
		}
		// Learn the EK and the measurements in a child process.
		cmd := exec.CommandContext(ctx, self, "--config", filepath.Join(bd, "wardgate.yaml"), "--identity")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("identity of box %s: %w\n%s", b, err, errb.String())
		}
		id := new(gateway.Identity)
		if err := json.Unmarshal(out.Bytes(), id); err != nil {
			return fmt.Errorf("identity of box %s: %w", b, err)
		}
		ids[b] = id
	}
	ca, err := os.ReadFile(filepath.Join(dir, "dev-ca", "ca.pem"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "roots", "wardgate-dev-ca.pem"), ca, 0o644); err != nil {
		return err
	}
	// The manifest approves the untampered image and this wardgated binary.
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
	mj, sig, err := firmware.SignManifest(m, vpriv)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifests/firmware-1.0.json"), mj, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifests/firmware-1.0.sig"), sig, 0o644); err != nil {
		return err
	}
	// Full configs, with every other box as a peer.
	for i, b := range o.boxes {
		c := cfgs[b]
		for j, p := range o.boxes {
			if j == i {
				continue
			}
			c.Peers = append(c.Peers, config.Peer{
				Name:              p,
				Endpoint:          net.JoinHostPort(o.hosts[j], strconv.Itoa(o.basePort+10*j)),
				WireGuardEndpoint: net.JoinHostPort(o.hosts[j], strconv.Itoa(o.basePort+10*j+1)),
				EK:                ids[p].EK,
				AllowedIPs:        []string{fmt.Sprintf("10.77.0.%d/32", j+1)},
			})
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
	fmt.Fprintf(stdout, "dev consortium in %s:\n", dir)
	for _, b := range o.boxes {
		fmt.Fprintf(stdout, "  %s: wardgated --config %s   (EK %s)\n", b, filepath.Join(dir, b, "wardgate.yaml"), ids[b].EK)
	}
	fmt.Fprintf(stdout, "start %s first: it serves the dev chain the others join.\n", o.boxes[0])
	fmt.Fprintf(stdout, "report API client certificate: %s (key %s, CA %s)\n",
		filepath.Join(dir, "api", "client.pem"), filepath.Join(dir, "api", "client-key.pem"), filepath.Join(dir, "api", "ca.pem"))
	return nil
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
		Metrics: config.Metrics{Listen: port(3)},
		API: config.API{Listen: port(6), TLSCert: filepath.Join(bd, "api-server.pem"), TLSKey: filepath.Join(bd, "api-server-key.pem"),
			ClientCA: filepath.Join(dir, "api", "ca.pem")},
		Records: config.Records{LANListen: port(2), DeliverURL: "http://" + port(5) + "/records"},
	}
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
	return p, p.issue(filepath.Join(dir, "client"), "security-team", nil, x509.ExtKeyUsageClientAuth)
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
