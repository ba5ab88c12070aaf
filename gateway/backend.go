package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/gateway/api"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/netlimit"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/tunnel"
)

// The daemon is the control.Backend of the control socket and the report API.
var _ control.Backend = (*Gateway)(nil)

func (d *Gateway) notReady() error {
	if !d.ready.Load() {
		return control.ErrNotReady
	}
	return nil
}

func (d *Gateway) Status(ctx context.Context) (control.StatusInfo, error) {
	d.selfMu.Lock()
	sc := d.self
	d.selfMu.Unlock()
	s := control.StatusInfo{
		Box: d.cfg.Box, Ready: d.ready.Load(), Version: version, Started: d.started,
		TPMKind: d.tpm.Kind(), EKFingerprint: d.attester.EKFingerprint(),
		WireGuardKey: base64.StdEncoding.EncodeToString(d.wgKey[:]),
		ListenPort:   d.dev.ListenPort(), TunnelAddress: d.cfg.TunnelAddress().String(),
		SelfCheck: sc,
	}
	ls := d.ledger.Status(ctx)
	s.LogSize = ls.Size
	if ls.LastAnchor != nil {
		c := control.CheckpointInfo{Size: ls.LastAnchor.Size, Root: ls.LastAnchor.Root.String()}
		c.Anchored, c.ChainID, c.Block = true, ls.LastAnchor.ChainID, ls.LastAnchor.Block
		c.Contract, c.Gateway, c.TxHash = ls.LastAnchor.Contract.Hex(), ls.LastAnchor.Gateway.Hex(), ls.LastAnchor.TxHash.Hex()
		s.LastAnchored = &c
	}
	s.ChainHeight = d.chainHeight(ctx)
	s.Delivery = d.deliveryStatus()
	return s, nil
}

func (d *Gateway) chainHeight(ctx context.Context) uint64 {
	if d.chain == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	h, err := d.chain.Backend().BlockNumber(ctx)
	if err != nil {
		return 0
	}
	return h
}

func (d *Gateway) Peers(ctx context.Context) ([]control.PeerInfo, error) {
	if err := d.notReady(); err != nil {
		return nil, err
	}
	tun := map[string]tunnel.PeerStatus{}
	for _, st := range d.dev.Status() {
		tun[st.Name] = st
	}
	var out []control.PeerInfo
	for _, pc := range d.cfg.Peers {
		p := d.peers[pc.Name]
		info := control.PeerInfo{Name: pc.Name, State: control.PeerNeverAdmitted, Endpoint: pc.WireGuardEndpoint, AllowedIPs: pc.AllowedIPs}
		if st, ok := tun[pc.Name]; ok {
			info.State = peerStateOf(st.State)
			info.WireGuardKey = base64.StdEncoding.EncodeToString(st.PublicKey[:])
			if st.Endpoint.IsValid() {
				info.Endpoint = st.Endpoint.String()
			}
			info.LastHandshake, info.RxBytes, info.TxBytes, info.Expiry = st.LastHandshake, st.RxBytes, st.TxBytes, st.Expiry
			if st.Reason != "" {
				info.Reasons = append(info.Reasons, control.Reason{Code: "tunnel", Message: st.Reason})
			}
		}
		p.mu.Lock()
		if v := p.verdict; v != nil {
			info.Verdict = control.VerdictFail
			if v.Passed() {
				info.Verdict = control.VerdictPass
				info.Expiry = v.Expiry()
			} else {
				info.Expiry = time.Time{} // a failing verdict admits nothing, so it has no expiry to show
			}
			info.LastReportID = v.ReportID()
			info.Reasons = append(controlReasons(v.Reasons()), info.Reasons...)
			if info.WireGuardKey == "" {
				k := v.WireGuardKey()
				info.WireGuardKey = base64.StdEncoding.EncodeToString(k[:])
			}
		}
		info.Path = string(d.pathOf(pc.Name))
		p.describe(&info)
		p.mu.Unlock()
		out = append(out, info)
	}
	return out, nil
}

func (d *Gateway) Attest(ctx context.Context, peer string) (control.AttestResult, error) {
	if err := d.notReady(); err != nil {
		return control.AttestResult{}, err
	}
	p, ok := d.peers[peer]
	if !ok {
		return control.AttestResult{}, fmt.Errorf("peer %q: %w", peer, control.ErrNotFound)
	}
	v, err := d.appraise(ctx, p, true)
	if err != nil {
		return control.AttestResult{}, fmt.Errorf("attesting %s: %w", peer, err)
	}
	r := control.AttestResult{Peer: peer, Verdict: control.VerdictFail, Time: v.IssuedAt(), Expiry: v.Expiry(), ReportID: v.ReportID(), Reasons: controlReasons(v.Reasons())}
	if v.Passed() {
		r.Verdict = control.VerdictPass
	}
	r.Admitted = d.Verdict(peer) != nil
	return r, nil
}

func (d *Gateway) Reports(ctx context.Context, f control.ReportFilter) ([]control.ReportSummary, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return d.reports.list(f), nil
}

func (d *Gateway) Report(ctx context.Context, id string) ([]byte, error) {
	return d.reports.get(id)
}

func (d *Gateway) LedgerStatus(ctx context.Context) (control.LedgerInfo, error) {
	ls := d.ledger.Status(ctx)
	var i control.LedgerInfo
	fillLedgerInfo(&i, ls)
	i.Checkpoints = len(d.checkpointSizes(ls))
	i.AnchoredCheckpoints = len(d.ledger.AnchoredSizes())
	i.RecordKey = hex.EncodeToString(d.ledger.RecordKey())
	if d.chain != nil && d.quarantine == "" {
		i.ChainMode = string(d.cfg.Chain.Mode)
		i.ChainURL = d.chainURL
		i.ChainID = d.chain.ChainID()
		i.Contract = d.chain.Contract().Hex()
		i.Gateway = d.chain.Gateway().Hex()
		i.ChainHeight = d.chainHeight(ctx)
	}
	return i, nil
}

// checkpointSizes is a lower bound on the checkpoints signed: the ledger
// exposes only the anchored ones and the last.
func (d *Gateway) checkpointSizes(ls ledger.Status) []uint64 {
	s := d.ledger.AnchoredSizes()
	if ls.LastCheckpoint != nil && !slices.Contains(s, ls.LastCheckpoint.Size) {
		s = append(s, ls.LastCheckpoint.Size)
	}
	return s
}

func (d *Gateway) Checkpoints(ctx context.Context) ([]control.CheckpointInfo, error) {
	ls := d.ledger.Status(ctx)
	var out []control.CheckpointInfo
	if ls.LastCheckpoint != nil {
		var a *proof.Anchor
		if ls.LastAnchor != nil && ls.LastAnchor.Size == ls.LastCheckpoint.Size {
			a = ls.LastAnchor
		}
		out = append(out, control.CheckpointFromLedger(*ls.LastCheckpoint, a))
	}
	if ls.LastAnchor != nil && (ls.LastCheckpoint == nil || ls.LastAnchor.Size != ls.LastCheckpoint.Size) {
		c := control.CheckpointInfo{Size: ls.LastAnchor.Size, Root: ls.LastAnchor.Root.String()}
		c.Anchored, c.ChainID, c.Block = true, ls.LastAnchor.ChainID, ls.LastAnchor.Block
		c.Contract, c.Gateway, c.TxHash = ls.LastAnchor.Contract.Hex(), ls.LastAnchor.Gateway.Hex(), ls.LastAnchor.TxHash.Hex()
		out = append(out, c)
	}
	return out, nil
}

func (d *Gateway) Firmware(ctx context.Context) (control.FirmwareInfo, error) {
	var fi control.FirmwareInfo
	for i, m := range d.manifests {
		n := 0
		if m != nil {
			n = len(m.Components)
		}
		fi.Manifests = append(fi.Manifests, control.ManifestInfo{Vendor: m.Vendor, Version: m.Version, Path: d.mfPaths[i], Components: n})
	}
	d.selfMu.Lock()
	fi.Components = slices.Clone(d.selfComp)
	fi.Pass = d.self.Pass
	d.selfMu.Unlock()
	if len(fi.Components) == 0 {
		// No self-check report (it errored): show the measurements unappraised.
		for _, c := range d.boot {
			fi.Components = append(fi.Components, control.ComponentInfo{Name: c.Name, Version: c.Version, PCR: c.PCR, Digest: hex.EncodeToString(c.Digest)})
		}
	}
	return fi, nil
}

// startAPI binds the report API and the metrics listener if configured.
func (d *Gateway) startAPI(add func(string, func(context.Context) error, net.Listener)) error {
	c := d.cfg
	if c.API.Listen != "" {
		s, err := api.New(api.Config{Backend: d, CertFile: c.API.TLSCert, KeyFile: c.API.TLSKey, ClientCAFile: c.API.ClientCA, Logger: d.log, Audit: d.audit})
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		raw, err := net.Listen("tcp", c.API.Listen)
		if err != nil {
			return fmt.Errorf("api.listen: %w", err)
		}
		ln := netlimit.Listen(raw, netlimit.Limits{})
		add("report API", func(ctx context.Context) error { return s.Serve(ctx, ln) }, ln)
	}
	if c.Metrics.Listen != "" {
		raw, err := net.Listen("tcp", c.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		var ln net.Listener = netlimit.Listen(raw, netlimit.Limits{})
		if c.Metrics.TLSCert != "" {
			// Prometheus scrapes with a client certificate from client_ca.
			tc, err := api.TLSConfig(c.Metrics.TLSCert, c.Metrics.TLSKey, c.Metrics.ClientCA)
			if err != nil {
				raw.Close()
				return fmt.Errorf("metrics.tls_cert/tls_key/client_ca: %w", err)
			}
			ln = tls.NewListener(ln, tc)
		}
		m := d.metrics
		add("metrics", func(ctx context.Context) error { return m.Serve(ctx, ln) }, ln)
	}
	return nil
}

// loadPolicy reads a policy file (YAML or JSON, strict); empty path is the
// default policy (all manifest components required, DefaultPCRs).
func loadPolicy(path string) (attest.Policy, error) {
	if path == "" {
		return attest.Policy{Version: "default"}, nil
	}
	b, err := readBounded(path)
	if err != nil {
		return attest.Policy{}, err
	}
	var p attest.Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return attest.Policy{}, fmt.Errorf("%s: %w (keys: version, pcrs, required_components)", path, err)
	}
	if p.Version == "" {
		return attest.Policy{}, fmt.Errorf("%s: version is required: name the policy, e.g. version: consortium-2026-1", path)
	}
	for _, i := range p.PCRs {
		if i < 0 || i > 23 {
			return attest.Policy{}, fmt.Errorf("%s: pcrs: %d is not a PCR index (0..23)", path, i)
		}
	}
	return p, nil
}

// fillLedgerInfo copies a ledger.Status into i.
func fillLedgerInfo(i *control.LedgerInfo, s ledger.Status) {
	i.Box, i.Size, i.Backlog = s.Box, s.Size, s.Backlog
	i.ChainConnected, i.ChainStalled, i.ChainError, i.JournalError = s.ChainConnected, s.ChainStalled, s.ChainError, s.JournalError
	for _, e := range s.Endpoints {
		i.Endpoints = append(i.Endpoints, control.EndpointInfo{URL: e.URL, Healthy: e.Healthy, Active: e.Active, Head: e.Head, Error: e.Error})
	}
	if s.LastCheckpoint != nil {
		c := control.CheckpointFromLedger(*s.LastCheckpoint, nil)
		i.LastCheckpoint = &c
	}
	if s.LastAnchor != nil {
		c := control.CheckpointFromLedger(proof.Checkpoint{Size: s.LastAnchor.Size, Root: s.LastAnchor.Root}, s.LastAnchor)
		i.LastAnchored = &c
	}
}
