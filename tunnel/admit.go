package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/internal/names"
)

// Peer states reported by Status.
const (
	StateAdmitted      = "admitted"
	StateRevoked       = "revoked"
	StateExpired       = "expired"
	StateNeverAdmitted = "never-admitted"
)

// Admission refusals. Every refusal wraps ErrRefused.
var (
	ErrRefused        = errors.New("tunnel: admission refused")
	ErrNoVerdict      = fmt.Errorf("%w: no verdict", ErrRefused)
	ErrVerdictFailed  = fmt.Errorf("%w: verdict did not pass", ErrRefused)
	ErrVerdictExpired = fmt.Errorf("%w: verdict expired", ErrRefused)
	ErrKeyMismatch    = fmt.Errorf("%w: verdict is bound to a different WireGuard key", ErrRefused)
	ErrPeerMismatch   = fmt.Errorf("%w: verdict is for a different peer", ErrRefused)
	ErrStaleVerdict   = fmt.Errorf("%w: verdict is older than the one the peer was admitted with", ErrRefused)
	ErrIPConflict     = fmt.Errorf("%w: allowed IPs overlap another admitted peer", ErrRefused)
	ErrKeyInUse       = fmt.Errorf("%w: WireGuard key is admitted under another peer name", ErrRefused)
)

// ErrUnknownPeer is returned by Revoke for a name the device has never seen.
var ErrUnknownPeer = errors.New("tunnel: unknown peer")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("tunnel: device closed")

// Bounds on peer configuration, which comes from enrollment config.
const (
	maxAllowedIPs = 64
)

// PeerConfig is a peer as enrolled: its allowed IPs come from the
// enrollment configuration, never from the peer.
type PeerConfig struct {
	Name       string
	PublicKey  [32]byte
	Endpoint   netip.AddrPort // may be zero for a peer that only dials in
	AllowedIPs []netip.Prefix
}

// PeerStatus is one peer as `wardgate peers` shows it.
type PeerStatus struct {
	Name          string
	PublicKey     [32]byte
	Endpoint      netip.AddrPort
	AllowedIPs    []netip.Prefix
	LastHandshake time.Time // zero if none
	RxBytes       uint64
	TxBytes       uint64
	Expiry        time.Time // of the verdict it was last admitted with
	State         string    // StateAdmitted, StateRevoked, StateExpired, StateNeverAdmitted
	Reason        string    // why it is not admitted (empty while admitted)
	ReportID      string    // attestation report of the last verdict seen
}

type peer struct {
	cfg      PeerConfig
	state    string
	reason   string
	expiry   time.Time
	issued   time.Time
	reportID string
	timer    *time.Timer
	gen      uint64
}

func (p *peer) status() PeerStatus {
	return PeerStatus{
		Name:       p.cfg.Name,
		PublicKey:  p.cfg.PublicKey,
		Endpoint:   p.cfg.Endpoint,
		AllowedIPs: append([]netip.Prefix(nil), p.cfg.AllowedIPs...),
		Expiry:     p.expiry,
		State:      p.state,
		Reason:     p.reason,
		ReportID:   p.reportID,
	}
}

func (pc *PeerConfig) validate() error {
	if err := names.CheckBox("PeerConfig.Name", pc.Name); err != nil {
		return fmt.Errorf("tunnel: %w", err)
	}
	if pc.PublicKey == ([32]byte{}) {
		return fmt.Errorf("tunnel: peer %q: PeerConfig.PublicKey is all zero", pc.Name)
	}
	if len(pc.AllowedIPs) == 0 || len(pc.AllowedIPs) > maxAllowedIPs {
		return fmt.Errorf("tunnel: peer %q: PeerConfig.AllowedIPs must list 1-%d prefixes from the enrollment config", pc.Name, maxAllowedIPs)
	}
	for i, p := range pc.AllowedIPs {
		if !p.IsValid() {
			return fmt.Errorf("tunnel: peer %q: AllowedIPs[%d] is not a valid prefix", pc.Name, i)
		}
		if p != p.Masked() {
			return fmt.Errorf("tunnel: peer %q: AllowedIPs[%d] %s has host bits set; use %s", pc.Name, i, p, p.Masked())
		}
	}
	if pc.Endpoint.IsValid() && pc.Endpoint.Port() == 0 {
		return fmt.Errorf("tunnel: peer %q: PeerConfig.Endpoint %s has port 0", pc.Name, pc.Endpoint)
	}
	return nil
}

func verdictReasons(v *attest.Verdict) string {
	var codes []string
	for _, r := range v.Reasons() {
		codes = append(codes, r.Code)
	}
	if len(codes) == 0 {
		return "no reason given"
	}
	return strings.Join(codes, ",")
}

// Admit adds (or renews) a WireGuard peer from a verdict of the attestation
// verifier. It refuses unless the verdict passed, has not expired, is for
// this peer, and binds p.PublicKey. A refused verdict for a peer that is
// admitted removes that peer at once. The peer is removed again when the
// verdict expires unless Admit is called with a newer verdict first.
func (d *Device) Admit(v *attest.Verdict, p PeerConfig) error {
	if err := p.validate(); err != nil {
		return err
	}
	p.AllowedIPs = append([]netip.Prefix(nil), p.AllowedIPs...)
	now := time.Now()

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	cur := d.peers[p.Name]
	if err := d.judgeLocked(cur, v, p, now); err != nil {
		if errors.Is(err, ErrStaleVerdict) {
			// An out-of-order older verdict changes nothing either way.
			d.mu.Unlock()
			return err
		}
		err = fmt.Errorf("peer %q: %w", p.Name, err)
		d.unlockNotify(d.refuseLocked(cur, p, v, err))
		return err
	}
	nudge, err := d.installLocked(cur, p)
	if err != nil {
		err = fmt.Errorf("tunnel: peer %q: %w", p.Name, err)
		d.unlockNotify(d.uninstallLocked(cur, p, err))
		return err
	}
	renewed := cur != nil && cur.state == StateAdmitted
	st := d.recordLocked(cur, v, p, nudge)
	d.mu.Unlock()

	// A renewal repeats every interval for every healthy peer: DEBUG, so a
	// box with many peers logs nothing at INFO in steady state. The first
	// admission is a state change: INFO.
	level := slog.LevelInfo
	if renewed {
		level = slog.LevelDebug
	}
	d.log.Log(context.Background(), level, "peer admitted", "peer", p.Name, "renewed", renewed, "expiry", v.Expiry(), "report", v.ReportID(), "allowed_ips", p.AllowedIPs)
	d.notify(st)
	return nil
}

// judgeLocked returns why v cannot admit p (cur is p's current record, if
// any), or nil. ErrStaleVerdict is an older verdict than the one p is
// admitted with.
func (d *Device) judgeLocked(cur *peer, v *attest.Verdict, p PeerConfig, now time.Time) error {
	switch {
	case v == nil:
		return ErrNoVerdict
	case v.Peer() != p.Name:
		return fmt.Errorf("%w: verdict names %q", ErrPeerMismatch, v.Peer())
	case cur != nil && cur.state == StateAdmitted && v.IssuedAt().Before(cur.issued):
		return fmt.Errorf("%w: peer %q: issued %s, admitted with %s", ErrStaleVerdict, p.Name,
			v.IssuedAt().Format(time.RFC3339Nano), cur.issued.Format(time.RFC3339Nano))
	case !v.Passed():
		return fmt.Errorf("%w (%s)", ErrVerdictFailed, verdictReasons(v))
	case !v.Valid(now):
		return fmt.Errorf("%w at %s", ErrVerdictExpired, v.Expiry().UTC().Format(time.RFC3339))
	case v.WireGuardKey() != p.PublicKey:
		return ErrKeyMismatch
	}
	return d.conflictLocked(p)
}

// unlockNotify releases d.mu and then reports st if it changed: watchers
// are called without the lock.
func (d *Device) unlockNotify(st PeerStatus, changed bool) {
	d.mu.Unlock()
	if changed {
		d.notify(st)
	}
}

// installLocked installs (or updates) p in WireGuard and the routing table,
// before it is recorded as admitted. It reports whether the handshake is
// left to the peer (see handshakeRole).
func (d *Device) installLocked(cur *peer, p PeerConfig) (nudge bool, err error) {
	admitted := cur != nil && cur.state == StateAdmitted
	if admitted && cur.cfg.PublicKey != p.PublicKey {
		if err := d.wg.IpcSet(peerRemoveUAPI(cur.cfg.PublicKey)); err != nil {
			return false, fmt.Errorf("remove old key: %w", err)
		}
	}
	fresh := !admitted || cur.cfg.PublicKey != p.PublicKey
	set, keepalive, nudge := d.handshakeRole(p, fresh)
	if err := d.wg.IpcSet(peerSetUAPI(set, keepalive)); err != nil {
		return false, fmt.Errorf("configure: %w", err)
	}
	if keep := int(d.cfg.Keepalive / time.Second); keepalive != keep {
		if err := d.wg.IpcSet(keepaliveUAPI(p.PublicKey, keep)); err != nil {
			d.log.Warn("resetting persistent keepalive failed", "peer", p.Name, "err", err)
		}
	}
	if d.link == nil {
		return nudge, nil
	}
	if admitted {
		if err := d.link.delRoutes(removed(cur.cfg.AllowedIPs, p.AllowedIPs)); err != nil {
			d.log.Warn("stale route removal failed", "peer", p.Name, "err", err)
		}
	}
	return nudge, d.link.addRoutes(p.AllowedIPs)
}

// handshakeRole returns the configuration and persistent keepalive to set
// for p, and whether this side waits for the peer's handshake (nudge).
//
// Two boxes admit each other in the same instant (mutual attestation
// ends together). If both start a handshake, the initiations cross:
// wireguard-go drops the response to an initiation it has replaced, so
// each side is left a responder waiting for the other and nothing
// passes until a retry 5 s later, or longer when both retry together.
// So on a fresh admission only the side with the lower key initiates.
// The other is configured without the peer's endpoint, so that neither
// a keepalive nor its first packet can start a second handshake; it
// learns the endpoint from the initiation, and is given it (and starts
// the handshake itself) after handshakeNudge if none has come, for
// when its peer's initiation came before this admission and was dropped.
func (d *Device) handshakeRole(p PeerConfig, fresh bool) (set PeerConfig, keepalive int, nudge bool) {
	set, keepalive = p, int(d.cfg.Keepalive/time.Second)
	if fresh && bytes.Compare(d.pub[:], p.PublicKey[:]) > 0 {
		set.Endpoint, nudge = netip.AddrPort{}, true
	} else if fresh && keepalive == 0 {
		// wireguard-go sends a keepalive, and so starts the handshake, when
		// a peer's persistent keepalive is switched on; switch it on and
		// off again so that the tunnel comes up at admission rather than
		// at the first packet, without keepalives afterwards.
		keepalive = 25
	}
	return set, keepalive, nudge
}

// uninstallLocked undoes an install that failed half way: an admitted peer
// is taken out rather than left in an unknown state.
func (d *Device) uninstallLocked(cur *peer, p PeerConfig, why error) (PeerStatus, bool) {
	d.wg.IpcSet(peerRemoveUAPI(p.PublicKey))
	if d.link != nil {
		d.link.delRoutes(p.AllowedIPs)
	}
	if cur == nil || cur.state != StateAdmitted {
		return PeerStatus{}, false
	}
	d.removeLocked(cur, StateRevoked, why.Error())
	return cur.status(), true
}

// recordLocked records p as admitted by v until v expires, and schedules
// the handshake nudge when this side waits for the peer's.
func (d *Device) recordLocked(cur *peer, v *attest.Verdict, p PeerConfig, nudge bool) PeerStatus {
	if cur == nil {
		cur = &peer{}
		d.peers[p.Name] = cur
	}
	if cur.timer != nil {
		cur.timer.Stop()
	}
	cur.cfg, cur.state, cur.reason = p, StateAdmitted, ""
	cur.expiry, cur.issued, cur.reportID = v.Expiry(), v.IssuedAt(), v.ReportID()
	cur.gen++
	gen, name := cur.gen, p.Name
	cur.timer = time.AfterFunc(time.Until(v.Expiry()), func() { d.expire(name, gen) })
	if nudge {
		key, ep := p.PublicKey, p.Endpoint
		time.AfterFunc(handshakeNudge, func() { d.nudge(name, key, ep) })
	}
	return cur.status()
}

// handshakeNudge is how long the higher-keyed side of a fresh admission
// waits for its peer's handshake before starting one itself.
const handshakeNudge = 150 * time.Millisecond

// nudge gives a peer admitted with key its configured endpoint and, unless
// a handshake has happened, starts one (see Admit). It does nothing if the
// peer has since gone or changed keys.
func (d *Device) nudge(name string, key [32]byte, ep netip.AddrPort) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.peers[name]
	if d.closed || cur == nil || cur.state != StateAdmitted || cur.cfg.PublicKey != key {
		return
	}
	keep := int(d.cfg.Keepalive / time.Second)
	if st, err := d.ipcState(); err == nil {
		if wp := st.peers[key]; wp != nil && !wp.lastHandshake.IsZero() {
			if err := d.wg.IpcSet(endpointUAPI(key, ep, keep)); err != nil {
				d.log.Warn("setting the peer's endpoint failed", "peer", name, "err", err)
			}
			return
		}
	}
	// No handshake yet. A first packet may already have tried one without
	// an endpoint, and wireguard-go then holds off new initiations for 5 s;
	// configuring the peer afresh clears that, and the keepalive switched
	// on and off starts the handshake now.
	p := cur.cfg
	p.Endpoint = ep
	if err := d.wg.IpcSet(peerRemoveUAPI(key) + peerSetUAPI(p, max(keep, 25))); err != nil {
		d.log.Warn("starting the handshake failed", "peer", name, "err", err)
		return
	}
	if keep == 0 {
		if err := d.wg.IpcSet(keepaliveUAPI(key, keep)); err != nil {
			d.log.Warn("resetting persistent keepalive failed", "peer", name, "err", err)
		}
	}
}

// conflictLocked refuses allowed IPs that overlap another admitted peer
// (WireGuard would silently move them, letting one peer take another's
// traffic) and a key that another peer name already holds.
func (d *Device) conflictLocked(p PeerConfig) error {
	for name, o := range d.peers {
		if name == p.Name || o.state != StateAdmitted {
			continue
		}
		if o.cfg.PublicKey == p.PublicKey {
			return fmt.Errorf("%w: %q", ErrKeyInUse, name)
		}
		for _, a := range p.AllowedIPs {
			for _, b := range o.cfg.AllowedIPs {
				if a.Overlaps(b) {
					return fmt.Errorf("%w: %s overlaps %s of peer %q", ErrIPConflict, a, b, name)
				}
			}
		}
	}
	return nil
}

// refuseLocked records a refusal; an admitted peer is removed at once.
func (d *Device) refuseLocked(cur *peer, p PeerConfig, v *attest.Verdict, why error) (PeerStatus, bool) {
	if cur == nil {
		cur = &peer{cfg: p, state: StateNeverAdmitted, reason: why.Error()}
		if v != nil {
			cur.reportID = v.ReportID()
		}
		d.peers[p.Name] = cur
		d.log.Warn("peer refused", "peer", p.Name, "err", why)
		return cur.status(), true
	}
	if v != nil {
		cur.reportID = v.ReportID()
	}
	if cur.state != StateAdmitted {
		cur.reason = why.Error()
		d.log.Warn("peer refused", "peer", p.Name, "state", cur.state, "err", why)
		return cur.status(), false
	}
	d.removeLocked(cur, StateRevoked, why.Error())
	return cur.status(), true
}

// removeLocked takes an admitted peer out of WireGuard and the routing table.
func (d *Device) removeLocked(p *peer, state, reason string) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.gen++
	p.state, p.reason = state, reason
	if err := d.wg.IpcSet(peerRemoveUAPI(p.cfg.PublicKey)); err != nil {
		d.log.Error("removing peer from WireGuard failed", "peer", p.cfg.Name, "err", err)
	}
	if d.link != nil {
		if err := d.link.delRoutes(p.cfg.AllowedIPs); err != nil {
			d.log.Error("removing peer routes failed", "peer", p.cfg.Name, "err", err)
		}
	}
	d.log.Warn("peer removed", "peer", p.cfg.Name, "state", state, "reason", reason)
}

// Revoke removes an admitted peer at once. Revoking a peer that is already
// out (revoked, expired, never admitted) changes nothing and is not an error,
// so callers need not track what expiry already did.
func (d *Device) Revoke(name, reason string) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	p := d.peers[name]
	if p == nil {
		d.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownPeer, name)
	}
	if p.state != StateAdmitted {
		d.mu.Unlock()
		return nil
	}
	if reason == "" {
		reason = "revoked"
	}
	d.removeLocked(p, StateRevoked, reason)
	st := p.status()
	d.mu.Unlock()
	d.notify(st)
	return nil
}

func (d *Device) expire(name string, gen uint64) {
	d.mu.Lock()
	p := d.peers[name]
	if d.closed || p == nil || p.gen != gen || p.state != StateAdmitted {
		d.mu.Unlock()
		return
	}
	d.removeLocked(p, StateExpired, fmt.Sprintf("verdict expired at %s without renewal", p.expiry.UTC().Format(time.RFC3339)))
	st := p.status()
	d.mu.Unlock()
	d.notify(st)
}

func (d *Device) notify(st PeerStatus) {
	if d.cfg.OnChange != nil {
		d.cfg.OnChange(st)
	}
}

// Status lists every peer the device has seen, with WireGuard's counters
// for the admitted ones.
func (d *Device) Status() []PeerStatus {
	d.mu.Lock()
	out := make([]PeerStatus, 0, len(d.peers))
	for _, p := range d.peers {
		out = append(out, p.status())
	}
	d.mu.Unlock()
	st, err := d.ipcState()
	if err != nil {
		d.log.Warn("status: reading WireGuard state failed", "err", err)
		return sortStatus(out)
	}
	for i := range out {
		if out[i].State != StateAdmitted {
			continue
		}
		if wp := st.peers[out[i].PublicKey]; wp != nil {
			out[i].LastHandshake, out[i].RxBytes, out[i].TxBytes = wp.lastHandshake, wp.rx, wp.tx
			if wp.endpoint.IsValid() {
				out[i].Endpoint = wp.endpoint // roamed
			}
		}
	}
	return sortStatus(out)
}

func sortStatus(s []PeerStatus) []PeerStatus {
	slices.SortFunc(s, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return s
}

func removed(old, now []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, o := range old {
		if !slices.Contains(now, o) {
			out = append(out, o)
		}
	}
	return out
}
