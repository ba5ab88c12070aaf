package tunnel

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// peerSetUAPI is the UAPI text that installs or updates one peer, replacing
// its allowed IPs with exactly the enrolled ones.
func peerSetUAPI(p PeerConfig, keepalive int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "public_key=%s\n", hex.EncodeToString(p.PublicKey[:]))
	if p.Endpoint.IsValid() {
		fmt.Fprintf(&b, "endpoint=%s\n", p.Endpoint)
	}
	fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", keepalive)
	b.WriteString("replace_allowed_ips=true\n")
	for _, pfx := range p.AllowedIPs {
		fmt.Fprintf(&b, "allowed_ip=%s\n", pfx)
	}
	return b.String()
}

func keepaliveUAPI(key [32]byte, secs int) string {
	return fmt.Sprintf("public_key=%s\nupdate_only=true\npersistent_keepalive_interval=%d\n", hex.EncodeToString(key[:]), secs)
}

func endpointUAPI(key [32]byte, ep netip.AddrPort, keepalive int) string {
	s := fmt.Sprintf("public_key=%s\nupdate_only=true\n", hex.EncodeToString(key[:]))
	if ep.IsValid() {
		s += fmt.Sprintf("endpoint=%s\n", ep)
	}
	return s + fmt.Sprintf("persistent_keepalive_interval=%d\n", keepalive)
}

func peerRemoveUAPI(key [32]byte) string {
	return fmt.Sprintf("public_key=%s\nremove=true\n", hex.EncodeToString(key[:]))
}

// wgPeer is what IpcGet reports about one peer.
type wgPeer struct {
	endpoint      netip.AddrPort
	lastHandshake time.Time
	rx, tx        uint64
	keepalive     int
	allowedIPs    []netip.Prefix
}

// wgState is the parsed IpcGet output.
type wgState struct {
	listenPort int
	peers      map[[32]byte]*wgPeer
}

// parseIpcGet parses wireguard-go's UAPI "get" output. It only reads the keys
// the status needs and ignores the rest, so a newer wireguard-go that adds
// keys does not break it.
func parseIpcGet(s string) (*wgState, error) {
	st := &wgState{peers: map[[32]byte]*wgPeer{}}
	var cur *wgPeer
	var hsSec, hsNsec int64
	flush := func() {
		if cur != nil && (hsSec != 0 || hsNsec != 0) {
			cur.lastHandshake = time.Unix(hsSec, hsNsec)
		}
		hsSec, hsNsec = 0, 0
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("tunnel: uapi get: malformed line %q", line)
		}
		var err error
		switch k {
		case "listen_port":
			st.listenPort, err = strconv.Atoi(v)
		case "public_key":
			flush()
			var key [32]byte
			if len(v) != 64 {
				err = fmt.Errorf("key is %d hex digits, want 64", len(v))
			} else {
				_, err = hex.Decode(key[:], []byte(v))
			}
			cur = &wgPeer{}
			st.peers[key] = cur
		case "endpoint":
			if cur != nil {
				cur.endpoint, err = netip.ParseAddrPort(v)
			}
		case "last_handshake_time_sec":
			hsSec, err = strconv.ParseInt(v, 10, 64)
		case "last_handshake_time_nsec":
			hsNsec, err = strconv.ParseInt(v, 10, 64)
		case "rx_bytes":
			if cur != nil {
				cur.rx, err = strconv.ParseUint(v, 10, 64)
			}
		case "tx_bytes":
			if cur != nil {
				cur.tx, err = strconv.ParseUint(v, 10, 64)
			}
		case "persistent_keepalive_interval":
			if cur != nil {
				cur.keepalive, err = strconv.Atoi(v)
			}
		case "allowed_ip":
			if cur != nil {
				var p netip.Prefix
				p, err = netip.ParsePrefix(v)
				cur.allowedIPs = append(cur.allowedIPs, p)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("tunnel: uapi get: %s: %w", k, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tunnel: uapi get: %w", err)
	}
	flush()
	return st, nil
}
