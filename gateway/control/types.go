// Package control is the local control plane of wardgated: the JSON types
// of every `wardgate` verb, the Backend the daemon implements, an HTTP
// server on a unix socket (mode 0660, group wardgate) and the Client the
// CLI uses. HTTP over a unix socket keeps it debuggable with
// `curl --unix-socket /run/wardgate/control.sock http://wardgate/v1/status`.
package control

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardgate/wardgate/internal/names"
	"github.com/wardgate/wardgate/ledger/proof"
)

// Backend is what wardgated exposes to the CLI and the report API. Every
// method must honour ctx and be safe for concurrent use. Return an error
// wrapping ErrNotFound for an unknown peer or report id, and ErrNotReady
// while the daemon is still starting.
type Backend interface {
	Status(ctx context.Context) (StatusInfo, error)
	Peers(ctx context.Context) ([]PeerInfo, error)
	// Attest appraises peer now (a fresh challenge) and returns the verdict.
	Attest(ctx context.Context, peer string) (AttestResult, error)
	// Reports lists report summaries, newest first, filtered and paginated.
	// ApplyFilter does this for a backend that holds a slice.
	Reports(ctx context.Context, f ReportFilter) ([]ReportSummary, error)
	// Report returns the signed report document exactly as signed.
	Report(ctx context.Context, id string) ([]byte, error)
	LedgerStatus(ctx context.Context) (LedgerInfo, error)
	Firmware(ctx context.Context) (FirmwareInfo, error)
	// Checkpoints lists the log's signed checkpoints, newest first, with
	// their anchors when anchored.
	Checkpoints(ctx context.Context) ([]CheckpointInfo, error)
}

var (
	// ErrNotFound: no such peer or report.
	ErrNotFound = errors.New("not found")
	// ErrNotReady: the daemon is up but has not finished starting.
	ErrNotReady = errors.New("wardgated is not ready yet")
	// ErrBadRequest: a malformed filter or name.
	ErrBadRequest = errors.New("bad request")
)

// Verdict values.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
)

// Reason is one finding of an appraisal (mirrors attest.Reason).
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// SelfCheck is the box's appraisal of its own evidence.
type SelfCheck struct {
	Time    time.Time `json:"time"`
	Pass    bool      `json:"pass"`
	Reasons []Reason  `json:"reasons,omitempty"`
}

// StatusInfo answers `wardgate status`.
type StatusInfo struct {
	Box           string    `json:"box"`
	Ready         bool      `json:"ready"`
	Version       string    `json:"version,omitempty"`
	Started       time.Time `json:"started"`
	TPMKind       string    `json:"tpm_kind"` // simulator | swtpm | device
	EKFingerprint string    `json:"ek_fingerprint"`
	WireGuardKey  string    `json:"wireguard_key"` // base64, as `wg` prints it
	ListenPort    int       `json:"listen_port,omitempty"`
	TunnelAddress string    `json:"tunnel_address,omitempty"`
	SelfCheck     SelfCheck `json:"self_check"`
	// ChainHeight is the head block number; 0 when no chain or unreachable.
	ChainHeight  uint64          `json:"chain_height"`
	LogSize      uint64          `json:"log_size"`
	LastAnchored *CheckpointInfo `json:"last_anchored,omitempty"`
	// Delivery is each delivery route's endpoint (delivery.go).
	Delivery []DeliveryEndpoint `json:"delivery,omitempty"`
}

// PeerState is where a peer stands in this box's tunnel. It is a string so
// that the JSON of `wardgate peers` is the state's name.
type PeerState string

// Peer states. They name the tunnel's own states (tunnel.State*), which
// gateway maps onto these; control does not import tunnel, so that the CLI
// links no WireGuard.
const (
	PeerAdmitted      PeerState = "admitted"       // in the tunnel on a passing verdict
	PeerRevoked       PeerState = "revoked"        // removed by a revocation: a failing verdict, a refused admission
	PeerExpired       PeerState = "expired"        // removed: its verdict ran out without renewal
	PeerNeverAdmitted PeerState = "never-admitted" // no passing verdict yet in this run
	// PeerUnreachable: not in the tunnel, and the last round could not
	// reach the peer (it is down, frozen or cut off); its reasons say since
	// when and why. A peer that stops answering while admitted stays
	// admitted, with that reason, until its verdict expires.
	PeerUnreachable PeerState = "unreachable"
)

// PeerInfo is one row of `wardgate peers`.
type PeerInfo struct {
	Name          string    `json:"name"`
	State         PeerState `json:"state"`
	WireGuardKey  string    `json:"wireguard_key"` // base64; empty before first evidence
	Endpoint      string    `json:"endpoint"`
	Path          string    `json:"path,omitempty"` // direct | relay: how packets and attestation reach the peer now
	AllowedIPs    []string  `json:"allowed_ips,omitempty"`
	LastHandshake time.Time `json:"last_handshake"`
	RxBytes       uint64    `json:"rx_bytes"`
	TxBytes       uint64    `json:"tx_bytes"`
	Verdict       string    `json:"verdict,omitempty"` // pass | fail | "" (never appraised)
	Expiry        time.Time `json:"expiry"`
	LastReportID  string    `json:"last_report_id,omitempty"`
	Reasons       []Reason  `json:"reasons,omitempty"`
	// UnreachableSince is when the peer stopped answering; zero while it
	// answers.
	UnreachableSince time.Time `json:"unreachable_since,omitzero"`
}

// AttestResult answers `wardgate attest PEER`.
type AttestResult struct {
	Peer     string    `json:"peer"`
	Verdict  string    `json:"verdict"` // pass | fail
	Time     time.Time `json:"time"`
	Expiry   time.Time `json:"expiry"`
	ReportID string    `json:"report_id"`
	Admitted bool      `json:"admitted"` // the peer is admitted after this appraisal
	Reasons  []Reason  `json:"reasons,omitempty"`
}

// ReportSummary is one attestation report in a list.
type ReportSummary struct {
	ID            string    `json:"id"`
	Time          time.Time `json:"time"`
	Verifier      string    `json:"verifier"`
	Peer          string    `json:"peer"`
	Verdict       string    `json:"verdict"` // pass | fail
	Expiry        time.Time `json:"expiry"`
	PolicyVersion string    `json:"policy_version,omitempty"`
	Reasons       []Reason  `json:"reasons,omitempty"`
}

// Pagination bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	maxNameLen   = 255
)

// ReportFilter selects reports. Zero values mean "any"; Limit 0 means
// DefaultLimit.
type ReportFilter struct {
	Peer    string    `json:"peer,omitempty"`
	Verdict string    `json:"verdict,omitempty"` // pass | fail | ""
	Since   time.Time `json:"since,omitzero"`
	Limit   int       `json:"limit,omitempty"`
	Offset  int       `json:"offset,omitempty"`
	// After is keyset pagination: only reports listed after the report
	// with this id (i.e. older). Unlike Offset it does not shift when new
	// reports arrive while a client pages. Backends that do not use
	// ApplyFilter must honour it.
	After string `json:"after,omitempty"`
}

// Validate checks the filter and fills the default limit.
func (f *ReportFilter) Validate() error {
	switch f.Verdict {
	case "", VerdictPass, VerdictFail:
	default:
		return fmt.Errorf("%w: verdict %q: use %q or %q", ErrBadRequest, f.Verdict, VerdictPass, VerdictFail)
	}
	if f.Peer != "" {
		if err := ValidPeer(f.Peer); err != nil {
			return err
		}
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		return fmt.Errorf("%w: limit %d: use 1..%d", ErrBadRequest, f.Limit, MaxLimit)
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	if f.Offset < 0 {
		return fmt.Errorf("%w: offset %d is negative", ErrBadRequest, f.Offset)
	}
	if f.After != "" {
		if err := ValidName(f.After); err != nil {
			return fmt.Errorf("after: %w", err)
		}
	}
	return nil
}

// Match reports whether r passes the filter's peer, verdict and since
// conditions (not the pagination).
func (f ReportFilter) Match(r ReportSummary) bool {
	return (f.Peer == "" || r.Peer == f.Peer) &&
		(f.Verdict == "" || r.Verdict == f.Verdict) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since))
}

// ApplyFilter filters reports (already newest first) and returns the page
// selected by f.Limit and f.Offset. f must have been validated.
func ApplyFilter(all []ReportSummary, f ReportFilter) []ReportSummary {
	out := []ReportSummary{}
	skipped := 0
	started := f.After == ""
	for _, r := range all {
		if !started {
			started = r.ID == f.After
			continue
		}
		if !f.Match(r) {
			continue
		}
		if skipped < f.Offset {
			skipped++
			continue
		}
		if len(out) == f.Limit {
			break
		}
		out = append(out, r)
	}
	return out
}

// Query encodes the filter as URL query parameters.
func (f ReportFilter) Query() url.Values {
	q := url.Values{}
	if f.Peer != "" {
		q.Set("peer", f.Peer)
	}
	if f.Verdict != "" {
		q.Set("verdict", f.Verdict)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset != 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	if f.After != "" {
		q.Set("after", f.After)
	}
	return q
}

// ParseReportFilter reads a filter from query parameters: peer, verdict,
// since (RFC 3339 time or a Go duration back from now), limit, offset, after.
// The result is validated.
func ParseReportFilter(q url.Values, now time.Time) (ReportFilter, error) {
	f := ReportFilter{Peer: q.Get("peer"), Verdict: q.Get("verdict"), After: q.Get("after")}
	if s := q.Get("since"); s != "" {
		t, err := ParseSince(s, now)
		if err != nil {
			return f, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		f.Since = t
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return f, fmt.Errorf("%w: %s %q is not a number", ErrBadRequest, p.name, s)
		}
		*p.dst = n
	}
	return f, f.Validate()
}

// ParseSince accepts an RFC 3339 time or a duration back from now
// ("24h", "90m"; also "7d" for days).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q: want a duration like 24h or 7d, or an RFC 3339 time", s)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("since %q: duration must not be negative", s)
	}
	return now.Add(-d), nil
}

func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// ValidPeer checks a peer name by the one box-name rule (internal/names),
// which also keeps it safe in a URL path.
func ValidPeer(s string) error {
	if err := names.CheckBox("peer", s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// ValidName checks a report id taken from a URL path: bounded,
// and only characters that need no escaping.
func ValidName(s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("%w: name must be 1..%d bytes", ErrBadRequest, maxNameLen)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return fmt.Errorf("%w: name %q: only letters, digits and - _ . : are allowed", ErrBadRequest, s)
		}
	}
	return nil
}

// LedgerInfo answers `wardgate ledger status`.
type LedgerInfo struct {
	Box                 string          `json:"box"`
	Size                uint64          `json:"size"`
	Checkpoints         int             `json:"checkpoints"`
	AnchoredCheckpoints int             `json:"anchored_checkpoints"`
	LastCheckpoint      *CheckpointInfo `json:"last_checkpoint,omitempty"`
	LastAnchored        *CheckpointInfo `json:"last_anchored,omitempty"`
	// Backlog is the number of entries not covered by an anchored checkpoint.
	Backlog        uint64 `json:"backlog"`
	ChainMode      string `json:"chain_mode,omitempty"` // embedded | rpc | "" (journal only)
	ChainURL       string `json:"chain_url,omitempty"`
	ChainID        uint64 `json:"chain_id,omitempty"`
	Contract       string `json:"contract,omitempty"`
	Gateway        string `json:"gateway,omitempty"`
	ChainConnected bool   `json:"chain_connected"`
	// ChainStalled: the last anchor waited on a chain that sealed no block.
	ChainStalled bool   `json:"chain_stalled,omitempty"`
	ChainHeight  uint64 `json:"chain_height,omitempty"`
	ChainError   string `json:"chain_error,omitempty"`
	JournalError string `json:"journal_error,omitempty"`
	RecordKey    string `json:"record_key,omitempty"` // hex Ed25519 key that signs entries and checkpoints
	// Endpoints is each chain rpc endpoint's health (rpc mode).
	Endpoints []EndpointInfo `json:"endpoints,omitempty"`
}

// EndpointInfo is one chain rpc endpoint as the box last saw it.
type EndpointInfo struct {
	URL     string `json:"url"`
	Healthy bool   `json:"healthy"`
	Active  bool   `json:"active"`
	Head    uint64 `json:"head,omitempty"`
	Error   string `json:"error,omitempty"`
}

// CheckpointInfo is a signed checkpoint and, if anchored, where.
type CheckpointInfo struct {
	Size      uint64    `json:"size"`
	Root      string    `json:"root"` // hex
	Time      time.Time `json:"time,omitzero"`
	Signature []byte    `json:"signature,omitempty"` // version 1 checkpoints
	Note      string    `json:"note,omitempty"`      // the C2SP signed note (version 2)
	Anchored  bool      `json:"anchored"`
	ChainID   uint64    `json:"chain_id,omitempty"`
	Contract  string    `json:"contract,omitempty"`
	Gateway   string    `json:"gateway,omitempty"`
	TxHash    string    `json:"tx_hash,omitempty"`
	Block     uint64    `json:"block,omitempty"`
}

// CheckpointFromLedger converts a ledger checkpoint and its anchor (nil if
// not anchored).
func CheckpointFromLedger(c proof.Checkpoint, a *proof.Anchor) CheckpointInfo {
	ci := CheckpointInfo{Size: c.Size, Root: c.Root.String(), Time: c.Time, Signature: c.Signature, Note: c.Note}
	ci.setAnchor(a)
	return ci
}

func (c *CheckpointInfo) setAnchor(a *proof.Anchor) {
	if a == nil {
		return
	}
	c.Anchored, c.ChainID, c.Block = true, a.ChainID, a.Block
	c.Contract, c.Gateway, c.TxHash = a.Contract.Hex(), a.Gateway.Hex(), a.TxHash.Hex()
}

// FirmwareInfo answers `wardgate firmware show`: what the box measured at
// boot, against its approved manifests.
type FirmwareInfo struct {
	Manifests  []ManifestInfo  `json:"manifests"`
	Components []ComponentInfo `json:"components"`
	// Pass: every measured component matches an approved manifest.
	Pass bool `json:"pass"`
}

// ManifestInfo is one approved (signature-verified) manifest.
type ManifestInfo struct {
	Vendor     string `json:"vendor"`
	Version    string `json:"version"`
	Path       string `json:"path,omitempty"`
	Components int    `json:"components"`
}

// ComponentInfo is one measured component.
type ComponentInfo struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	PCR     int    `json:"pcr"`
	Digest  string `json:"digest"` // hex SHA-256 as measured
	Matched bool   `json:"matched"`
	// Manifest is "vendor version" of the manifest that lists this digest.
	Manifest string `json:"manifest,omitempty"`
}
