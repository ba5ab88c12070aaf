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
	p := ipcParser{st: &wgState{peers: map[[32]byte]*wgPeer{}}}
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
		if err := p.set(k, v); err != nil {
			return nil, fmt.Errorf("tunnel: uapi get: %s: %w", k, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tunnel: uapi get: %w", err)
	}
	p.flush()
	return p.st, nil
}

// ipcParser is parseIpcGet's state: the peer being read, and its handshake
// time, which comes in two keys.
type ipcParser struct {
	st            *wgState
	cur           *wgPeer
	hsSec, hsNsec int64
}

// set reads one key of the device, or of the peer being read.
func (p *ipcParser) set(k, v string) (err error) {
	switch k {
	case "listen_port":
		p.st.listenPort, err = strconv.Atoi(v)
	case "public_key":
		p.flush()
		var key [32]byte
		if len(v) != 64 {
			err = fmt.Errorf("key is %d hex digits, want 64", len(v))
		} else {
			_, err = hex.Decode(key[:], []byte(v))
		}
		p.cur = &wgPeer{}
		p.st.peers[key] = p.cur
	case "last_handshake_time_sec":
		p.hsSec, err = strconv.ParseInt(v, 10, 64)
	case "last_handshake_time_nsec":
		p.hsNsec, err = strconv.ParseInt(v, 10, 64)
	default:
		if p.cur != nil {
			err = p.cur.set(k, v)
		}
	}
	return err
}

// flush ends the peer being read.
func (p *ipcParser) flush() {
	if p.cur != nil && (p.hsSec != 0 || p.hsNsec != 0) {
		p.cur.lastHandshake = time.Unix(p.hsSec, p.hsNsec)
	}
	p.hsSec, p.hsNsec = 0, 0
}

// set reads one of the peer's own keys.
func (w *wgPeer) set(k, v string) (err error) {
	switch k {
	case "endpoint":
		w.endpoint, err = netip.ParseAddrPort(v)
	case "rx_bytes":
		w.rx, err = strconv.ParseUint(v, 10, 64)
	case "tx_bytes":
		w.tx, err = strconv.ParseUint(v, 10, 64)
	case "persistent_keepalive_interval":
		w.keepalive, err = strconv.Atoi(v)
	case "allowed_ip":
		var p netip.Prefix
		p, err = netip.ParsePrefix(v)
		w.allowedIPs = append(w.allowedIPs, p)
	}
	return err
}
