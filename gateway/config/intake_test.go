package config

import (
	"strings"
	"testing"
)

// Intake any LAN host can use is refused unless it is on loopback, has
// client authentication, or the operator says insecure_lan (then warned).
func TestIntakeAuthentication(t *testing.T) {
	lan := "  lan_listen: 127.0.0.1:7480"
	for _, tc := range []struct {
		name, yaml, wantErr string
		warn                bool
	}{
		{"loopback plain", goodYAML, "", false},
		{"LAN plain", edit(t, lan, "  lan_listen: 192.168.10.2:7480"), `records.lan_listen: "192.168.10.2:7480" is reachable from the LAN without client authentication`, false},
		{"all interfaces plain", edit(t, lan, "  lan_listen: :7480"), `records.lan_listen: ":7480" is reachable`, false},
		{"LAN mTLS", edit(t, lan, "  lan_listen: 192.168.10.2:7480\n  tls_cert: lan.pem\n  tls_key: lan-key.pem\n  client_ca: ca.pem"), "", false},
		{"LAN insecure", edit(t, lan, "  lan_listen: 192.168.10.2:7480\n  insecure_lan: true"), "", true},
		{"MLLP plain", edit(t, lan, lan+"\n  mllp_listen: 192.168.10.2:2575"), `records.mllp_listen: "192.168.10.2:2575" is reachable`, false},
		{"MLLPS", edit(t, lan, "  lan_listen: 192.168.10.2:7480\n  tls_cert: lan.pem\n  tls_key: lan-key.pem\n  client_ca: ca.pem\n  mllp_listen: 192.168.10.2:2575\n  mllp_tls: true"), "", false},
		{"MLLPS without certs", edit(t, lan, lan+"\n  mllp_listen: 127.0.0.1:2575\n  mllp_tls: true"), `records.mllp_tls: needs records.tls_cert`, false},
		{"metrics off loopback plain", goodYAML + "\nmetrics: {listen: \"0.0.0.0:9090\"}\n", `metrics.listen: "0.0.0.0:9090" is off loopback`, false},
		{"metrics mTLS half set", goodYAML + "\nmetrics: {listen: \"0.0.0.0:9090\", tls_cert: m.pem}\n", `metrics.tls_key: is required`, false},
		{"metrics mTLS", goodYAML + "\nmetrics: {listen: \"0.0.0.0:9090\", tls_cert: m.pem, tls_key: k.pem, client_ca: ca.pem}\n", "", false},
		{"client_peers unknown peer", edit(t, lan, lan+"\n  client_peers: {ehr: [nobody]}"), `records.client_peers.ehr: "nobody" is not in peers`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "/etc/wardgate")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w := c.Warnings(); (len(w) > 0) != tc.warn || (tc.warn && !strings.Contains(w[0], "insecure_lan")) {
				t.Fatalf("warnings %q, want warning: %v", w, tc.warn)
			}
		})
	}
}
