package config

import (
	"strings"
	"testing"
)

func TestRelayConfig(t *testing.T) {
	const relay = "relay:\n  url: tls://relay.example:443\n  ca: relay-ca.pem\n  cert: box.pem\n  key: box-key.pem\n"
	via := func(v string) string {
		return edit(t, "    allowed_ips: [10.9.0.2/32, 192.168.20.0/24]\n", "    allowed_ips: [10.9.0.2/32, 192.168.20.0/24]\n    via: "+v+"\n")
	}
	c, err := Parse([]byte(via("auto")+relay), "/etc/wardgate")
	if err != nil {
		t.Fatal(err)
	}
	if c.PeerVia("hospital-b") != ViaAuto || c.RelayAddr() != "relay.example:443" || c.Relay.Cert != "/etc/wardgate/box.pem" {
		t.Fatalf("relay config read as %+v, via %s, addr %s", c.Relay, c.PeerVia("hospital-b"), c.RelayAddr())
	}
	if c, err := Parse([]byte(goodYAML), "/etc/wardgate"); err != nil || c.PeerVia("hospital-b") != ViaDirect || c.UsesRelay() {
		t.Fatalf("a peer without via must be direct: %v", err)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown via":        {via("carrier-pigeon"), `peers[0].via: "carrier-pigeon" is not one of direct, relay, auto`},
		"relay without url":  {via("relay"), `relay.url: is required`},
		"url without scheme": {via("relay") + strings.Replace(relay, "tls://", "", 1), `relay.url: "relay.example:443" is not tls://host:port`},
		"url without port":   {via("relay") + strings.Replace(relay, ":443", "", 1), `relay.url: "tls://relay.example" has no port`},
		"relay without cert": {via("relay") + strings.Replace(relay, "  cert: box.pem\n", "", 1), `relay.cert: is required`},
		"relay unused":       {goodYAML + relay, `relay.url: is set but no peer has via: relay or auto`},
	} {
		_, err := Parse([]byte(tc.yaml), "/etc/wardgate")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
}
