package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/tunnel"
)

const goodYAML = `
box: hospital-a
state_dir: /var/lib/wardgate
tpm:
  source: simulator
  dev_ca: dev-ca
firmware:
  image:
    - {name: bootloader, version: "2.1", file: image/bootloader.bin, pcr: 4}
    - {name: kernel, version: "6.12", sha256: "0000000000000000000000000000000000000000000000000000000000000001", pcr: 4}
tunnel:
  mode: userspace
  listen_port: 51820
  address: 10.9.0.1/24
  lan_routes: [192.168.10.0/24]
attestation:
  listen: 127.0.0.1:7443
  interval: 2s
  verdict_lifetime: 6s
  manufacturer_roots: roots
  manifests:
    - {path: manifests/fw-1.0.json, signature: manifests/fw-1.0.sig}
  vendor_keys: [keys/vendor.pub]
  policy: policy.yaml
peers:
  - name: hospital-b
    endpoint: 127.0.0.1:7444
    wireguard_endpoint: 127.0.0.1:51821
    ek: sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    allowed_ips: [10.9.0.2/32, 192.168.20.0/24]
chain:
  mode: embedded
  embedded: {serve: true, port: 8545}
control: {socket: /run/wardgate/a.sock}
records:
  lan_listen: 127.0.0.1:7480
  deliver_url: http://127.0.0.1:8080/records
`

func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(goodYAML), "/etc/wardgate")
	if err != nil {
		t.Fatalf("good config rejected: %v", err)
	}
	if c.Interval() != 2*time.Second || c.VerdictLifetime() != 6*time.Second {
		t.Errorf("interval %v lifetime %v", c.Interval(), c.VerdictLifetime())
	}
	if c.TunnelAddress() != netip.MustParsePrefix("10.9.0.1/24") {
		t.Errorf("tunnel address %v", c.TunnelAddress())
	}
	if got := c.PeerAllowedIPs("hospital-b"); len(got) != 2 || got[1] != netip.MustParsePrefix("192.168.20.0/24") {
		t.Errorf("allowed ips %v", got)
	}
	if c.PeerWireGuardEndpoint("hospital-b") != netip.MustParseAddrPort("127.0.0.1:51821") {
		t.Errorf("wg endpoint %v", c.PeerWireGuardEndpoint("hospital-b"))
	}
	// relative paths resolve against the config's directory
	if c.Firmware.Image[0].File != "/etc/wardgate/image/bootloader.bin" || c.Attestation.ManufacturerRoots != "/etc/wardgate/roots" {
		t.Errorf("paths not resolved: %q %q", c.Firmware.Image[0].File, c.Attestation.ManufacturerRoots)
	}
	// defaults
	if c.Tunnel.Interface != tunnel.DefaultInterface || c.Tunnel.MTU != tunnel.DefaultMTU || c.Records.PeerPort != DefaultPeerPort || c.Chain.Embedded.Host != ledger.DevChainHost {
		t.Errorf("defaults not applied: %+v %+v", c.Tunnel, c.Records)
	}
	if ek := c.EnrollmentMap()["hospital-b"]; !strings.HasPrefix(ek, "sha256:aaaa") {
		t.Errorf("enrollment %v", c.EnrollmentMap())
	}
	// a generated config round-trips
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b, ""); err != nil {
		t.Fatalf("marshalled config does not parse: %v\n%s", err, b)
	}
}

// edit applies a textual replacement to goodYAML, failing if it does not apply.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := goodYAML
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit %q does not apply", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func TestParseBad(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // substrings that must all appear, each in some error
	}{
		{"bad cidr in allowed_ips", edit(t, "10.9.0.2/32", "10.9.0.300/32"),
			[]string{`peers[0].allowed_ips[0]: "10.9.0.300/32" is not a CIDR; write e.g. 10.9.0.2/32`}},
		{"unknown key", edit(t, "  listen_port: 51820", "  listen_port: 51820\n  mtux: 1400"),
			[]string{`tunnel.mtux (line`, `unknown key "mtux"; valid keys here: mode, interface, listen_port, address, mtu, lan_routes`}},
		{"wrong type", edit(t, "listen_port: 51820", "listen_port: many"),
			[]string{`tunnel.listen_port (line`, `wrong type`}},
		{"bad tpm source", edit(t, "source: simulator", "source: hardware"),
			[]string{`tpm.source: "hardware" is not one of simulator, swtpm, device`}},
		{"swtpm needs address", edit(t, "source: simulator", "source: swtpm"),
			[]string{`tpm.address: is required`}},
		{"device forbids image", edit(t, "source: simulator", "source: device", "  dev_ca: dev-ca\n", ""),
			[]string{`firmware.image: is only for simulated TPMs`}},
		{"bad duration", edit(t, "interval: 2s", "interval: often"),
			[]string{`attestation.interval: "often" is not a duration`}},
		{"lifetime shorter than interval", edit(t, "verdict_lifetime: 6s", "verdict_lifetime: 1s"),
			[]string{`attestation.verdict_lifetime: 1s is shorter than attestation.interval 2s`}},
		{"bad listen", edit(t, "listen: 127.0.0.1:7443", "listen: 127.0.0.1"),
			[]string{`attestation.listen: "127.0.0.1" is not host:port; write e.g. 0.0.0.0:7443`}},
		{"bad ek", edit(t, "ek: sha256:aaaa", "ek: md5:aaaa"),
			[]string{`peers[0].ek: "md5:aaaa`, "wardgated --identity"}},
		{"bad box name", edit(t, "box: hospital-a", "box: Hospital_A"),
			[]string{`box: "Hospital_A" is not a box name`, "e.g. hospital-a"}},
		{"bad peer name", edit(t, "- name: hospital-b", "- name: hospital.b"),
			[]string{`peers[0].name: "hospital.b" is not a box name: it has '.' at byte 8`}},
		{"bad enrollment name", edit(t, "  policy: policy.yaml", "  policy: policy.yaml\n  enrollment: [{name: -c, ek: \"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}]"),
			[]string{`attestation.enrollment[0].name: "-c" is not a box name`}},
		{"peer is self", edit(t, "- name: hospital-b", "- name: hospital-a"),
			[]string{`peers[0].name: "hospital-a" is this box itself`}},
		{"overlapping allowed ips", edit(t, "[10.9.0.2/32, 192.168.20.0/24]", "[10.9.0.1/32]"),
			[]string{`peers[0].allowed_ips[0]: 10.9.0.1/32 overlaps tunnel.address`}},
		{"peer claims our LAN", edit(t, "192.168.20.0/24]", "192.168.10.128/25]"),
			[]string{`peers[0].allowed_ips[1]: 192.168.10.128/25 overlaps tunnel.lan_routes[0] (192.168.10.0/24)`}},
		{"bad wg endpoint", edit(t, "wireguard_endpoint: 127.0.0.1:51821", "wireguard_endpoint: hostb:51821"),
			[]string{`peers[0].wireguard_endpoint: "hostb:51821" is not ip:port`}},
		{"rpc missing fields", edit(t, "mode: embedded\n  embedded: {serve: true, port: 8545}", "mode: rpc"),
			[]string{`chain.rpc.endpoints: is required`, `chain.rpc.chain_id: is required`, `chain.rpc.contract: "" is not a contract address`, `chain.rpc.keystore: is required`}},
		{"rpc bad endpoint", edit(t, "mode: embedded\n  embedded: {serve: true, port: 8545}", "mode: rpc\n  rpc: {endpoints: [http://10.0.0.5:8545, 10.0.1.5]}"),
			[]string{`chain.rpc.endpoints[1]: "10.0.1.5" is not an http(s) or ws(s) URL`}},
		{"min_depth against confirmations", edit(t, "mode: embedded\n  embedded: {serve: true, port: 8545}", "mode: embedded\n  min_depth: 2\n  embedded: {serve: true, port: 8545, confirmations: 3}"),
			[]string{`chain.embedded.confirmations: is 3 but chain.min_depth is 2`}},
		{"fhir batch without deliver_url", edit(t, "  deliver_url: http://127.0.0.1:8080/records", "  deliver_fhir_batch: true"),
			[]string{`records.deliver_fhir_batch: needs records.deliver_url`}},
		{"bad port", edit(t, "listen_port: 51820", "listen_port: 70000"),
			[]string{`tunnel.listen_port: 70000 is not a port`}},
		{"component without digest", edit(t, `file: image/bootloader.bin, `, ""),
			[]string{`firmware.image[0]: needs file`}},
		{"wardgated in image", edit(t, "name: kernel", "name: wardgated"),
			[]string{`firmware.image[1].name: "wardgated" is measured automatically`}},
		{"api half set", edit(t, "control: {socket: /run/wardgate/a.sock}", "api: {tls_cert: c.pem}"),
			[]string{`api.listen: is required when api TLS files are set`}},
		{"records mTLS half set", edit(t, "  lan_listen: 127.0.0.1:7480", "  lan_listen: 127.0.0.1:7480\n  tls_cert: lan.pem"),
			[]string{`records.tls_key: is required`, `records.client_ca: is required`}},
		{"empty file", "", []string{`(file): is empty`}},
		{"not yaml", "box: [unclosed", []string{`(file): is not valid YAML`}},
		{"two documents", goodYAML + "\n---\nbox: x\n", []string{`more than one YAML document`}},
		{"several errors at once", edit(t, "10.9.0.2/32", "10.9.0.300/32", "interval: 2s", "interval: often", "mode: userspace", "mode: kernel"),
			[]string{`peers[0].allowed_ips[0]`, `attestation.interval`, `tunnel.mode: "kernel" is not one of tun, userspace`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "/etc/wardgate")
			if err == nil {
				t.Fatalf("accepted a bad config")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want config.Errors: %v", err, err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestLoadChecksFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "wardgate.yaml")
	if err := os.WriteFile(p, []byte(goodYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil {
		t.Fatal("Load accepted a config whose files are missing")
	}
	for _, w := range []string{"attestation.manufacturer_roots: " + filepath.Join(dir, "roots") + ": no such file or directory",
		"attestation.manifests[0].signature", "attestation.vendor_keys[0]", "firmware.image[0].file"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	// create them all: now it loads
	for _, d := range []string{"roots", "manifests", "keys", "image"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	for _, f := range []string{"manifests/fw-1.0.json", "manifests/fw-1.0.sig", "keys/vendor.pub", "policy.yaml", "image/bootloader.bin"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("Load with all files present: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodYAML))
	f.Add([]byte("box: a\npeers: [{name: b, allowed_ips: [1.2.3.4/33]}]"))
	f.Add([]byte("tunnel: {mode: tun, address: ::1/200}"))
	f.Add([]byte("&a [*a, *a]"))
	f.Add([]byte("box: !!binary AAAA"))
	f.Add([]byte("chain: {mode: rpc, rpc: {url: ':::', chain_id: -1}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "/base")
		if err == nil {
			// an accepted config must be usable through the accessors
			_ = c.Interval()
			_ = c.TunnelAddress()
			for _, p := range c.Peers {
				_ = c.PeerAllowedIPs(p.Name)
			}
			return
		}
		if err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
