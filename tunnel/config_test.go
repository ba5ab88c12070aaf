package tunnel

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type nopSealer struct{}

func (nopSealer) Seal(context.Context, []byte) ([]byte, error)   { panic("not reached") }
func (nopSealer) Unseal(context.Context, []byte) ([]byte, error) { panic("not reached") }

// TestConfigErrors: bad configuration is refused before anything is created,
// with an error that names the field.
func TestConfigErrors(t *testing.T) {
	good := func() Config {
		return Config{Mode: ModeUserspace, Address: netip.MustParsePrefix("10.0.0.1/32"), StateDir: t.TempDir(), Sealer: nopSealer{}}
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"Config.Mode", func(c *Config) { c.Mode = "" }},
		{"Config.Mode", func(c *Config) { c.Mode = "kernel" }},
		{"Config.Interface", func(c *Config) { c.Interface = "a-very-long-interface-name" }},
		{"Config.ListenPort", func(c *Config) { c.ListenPort = 70000 }},
		{"Config.Address", func(c *Config) { c.Address = netip.Prefix{} }},
		{"Config.MTU", func(c *Config) { c.MTU = 100 }},
		{"Config.Keepalive", func(c *Config) { c.Keepalive = time.Millisecond }},
		{"Config.StateDir", func(c *Config) { c.StateDir = "" }},
		{"Config.Sealer", func(c *Config) { c.Sealer = nil }},
		{"Config.Netns", func(c *Config) { c.Netns = "/var/run/netns/x" }},
	} {
		c := good()
		tc.edit(&c)
		_, err := New(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: got %v", tc.field, err)
		}
	}

	key := [32]byte{1}
	for _, tc := range []struct {
		want string
		p    PeerConfig
	}{
		{"PeerConfig.Name", PeerConfig{PublicKey: key, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}}},
		{"PeerConfig.PublicKey", PeerConfig{Name: "b", AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}}},
		{"PeerConfig.AllowedIPs", PeerConfig{Name: "b", PublicKey: key}},
		{"host bits", PeerConfig{Name: "b", PublicKey: key, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}}},
		{"PeerConfig.Endpoint", PeerConfig{Name: "b", PublicKey: key, Endpoint: netip.MustParseAddrPort("192.0.2.1:0"),
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}}},
		{"PeerConfig.Name", PeerConfig{Name: strings.Repeat("x", 200), PublicKey: key,
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}}},
	} {
		if err := tc.p.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v", tc.want, err)
		}
	}
}
