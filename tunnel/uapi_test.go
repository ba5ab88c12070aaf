package tunnel

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

const sampleIpcGet = `private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a
listen_port=12912
public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33
preshared_key=0000000000000000000000000000000000000000000000000000000000000000
protocol_version=1
endpoint=[abcd:23::33%2]:51820
last_handshake_time_sec=1700000000
last_handshake_time_nsec=500
tx_bytes=38333
rx_bytes=2224
persistent_keepalive_interval=0
allowed_ip=192.168.4.4/32
public_key=58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376
protocol_version=1
endpoint=182.122.22.19:3233
last_handshake_time_sec=0
last_handshake_time_nsec=0
tx_bytes=0
rx_bytes=0
allowed_ip=10.0.0.0/24
allowed_ip=192.168.0.0/16
errno=0
`

func TestParseIpcGet(t *testing.T) {
	st, err := parseIpcGet(sampleIpcGet)
	if err != nil {
		t.Fatal(err)
	}
	if st.listenPort != 12912 || len(st.peers) != 2 {
		t.Fatalf("got port %d, %d peers", st.listenPort, len(st.peers))
	}
	for k, p := range st.peers {
		switch k[0] {
		case 0xb8:
			if p.rx != 2224 || p.tx != 38333 || !p.lastHandshake.Equal(time.Unix(1700000000, 500)) ||
				p.endpoint.Port() != 51820 || len(p.allowedIPs) != 1 {
				t.Errorf("peer 1: %+v", p)
			}
		case 0x58:
			if !p.lastHandshake.IsZero() || p.endpoint != netip.MustParseAddrPort("182.122.22.19:3233") || len(p.allowedIPs) != 2 {
				t.Errorf("peer 2: %+v", p)
			}
		default:
			t.Errorf("unexpected key %x", k)
		}
	}
	for _, bad := range []string{"listen_port=x\n", "public_key=zz\n", "public_key=00\n", "garbage\n", "public_key=" + strings.Repeat("00", 32) + "\nrx_bytes=-1\n"} {
		if _, err := parseIpcGet(bad); err == nil {
			t.Errorf("parseIpcGet(%q) accepted", bad)
		}
	}
}

func TestPeerSetUAPIRoundTrip(t *testing.T) {
	p := PeerConfig{Name: "x", PublicKey: [32]byte{9}, Endpoint: netip.MustParseAddrPort("192.0.2.1:51820"),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32"), netip.MustParsePrefix("fd00::/64")}}
	st, err := parseIpcGet(peerSetUAPI(p, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := st.peers[p.PublicKey]
	if got == nil || got.endpoint != p.Endpoint || !sameSet(got.allowedIPs, p.AllowedIPs) {
		t.Fatalf("round trip: %+v", got)
	}
	if !strings.Contains(peerSetUAPI(p, 0), "replace_allowed_ips=true\n") || !strings.Contains(peerSetUAPI(p, 0), "persistent_keepalive_interval=0\n") {
		t.Fatal("allowed IPs are not replaced")
	}
}

// FuzzParseIpcGet: the parser never panics and never returns both a state
// and an error.
func FuzzParseIpcGet(f *testing.F) {
	f.Add(sampleIpcGet)
	f.Add("public_key=\n")
	f.Add("endpoint=1.2.3.4:5\n")
	f.Add("allowed_ip=::/0\nlisten_port=99999999999999999999\n")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseIpcGet(s)
		if (st == nil) == (err == nil) {
			t.Fatalf("state %v, err %v", st, err)
		}
	})
}
