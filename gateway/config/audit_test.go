package config

import (
	"strings"
	"testing"

	"github.com/wardgate/wardgate/audit"
)

// TestAuditConfig: audit.syslog needs an address and a CA, client cert
// and key go together, the bounds are checked and defaulted, and paths
// resolve against the config's directory.
func TestAuditConfig(t *testing.T) {
	for _, tc := range []struct{ name, yaml, wantErr string }{
		{"no CA", "audit: {syslog: {address: siem:6514}}", `audit.syslog.ca: is required`},
		{"bad address", "audit: {syslog: {address: siem, ca: ca.pem}}", `audit.syslog.address: "siem" is not host:port`},
		{"CA without address", "audit: {syslog: {ca: ca.pem}}", `audit.syslog.address: is required when other audit.syslog keys are set`},
		{"half a client cert", "audit: {syslog: {address: siem:6514, ca: ca.pem, client_cert: c.pem}}", `audit.syslog.client_cert: and audit.syslog.client_key go together`},
		{"negative buffer", "audit: {buffer: -1}", `audit.buffer: -1 is out of range`},
		{"unknown key", "audit: {syslog: {adress: siem:6514}}", `adress`},
		{"good", "audit: {syslog: {address: siem:6514, ca: ca.pem}, retain: 50}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(goodYAML+tc.yaml+"\n"), "/etc/wardgate")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Audit.Syslog.CA != "/etc/wardgate/ca.pem" || c.Audit.Buffer != audit.DefaultBuffer || c.Audit.Retain != 50 {
				t.Fatalf("audit after validation: %+v", c.Audit)
			}
		})
	}
}
