package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/peerproto"
	"github.com/wardgate/wardgate/gateway/api"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/tick"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/tunnel"
)

// Content types of the ledger entries the daemon writes about attestation.
const (
	ctReport      = "application/vnd.wardgate.report+json"
	ctAdmission   = "application/vnd.wardgate.admission+json"
	ctRevocation  = "application/vnd.wardgate.revocation+json"
	ctUnreachable = "application/vnd.wardgate.unreachable+json"
)

// peerState is this box's view of one configured peer, as verifier.
type peerState struct {
	cfg    config.Peer
	client *peerproto.Client
	kick   chan time.Time // the peer said hello (restarted): re-run first contact
	round  sync.Mutex     // one appraisal at a time: the verifier keeps one pending challenge per peer

	mu        sync.Mutex
	activated bool            // first contact done: AK activated in the verifier
	verdict   *attest.Verdict // last verdict (pass or fail)
	admitted  *attest.Verdict // verdict the tunnel admitted with; nil when not admitted
	lastErr   string          // last protocol failure (not a verdict)
	lastTry   time.Time
	// unreachable is since when the peer has not answered (zero while it
	// answers); it stays in the tunnel until its verdict expires.
	unreachable time.Time
}

func (p *peerState) poke() {
	select {
	case p.kick <- time.Now():
	default:
	}
}

// Verdict implements relay.Verdicts: the verdict the peer is admitted
// with, or nil.
func (d *Gateway) Verdict(peer string) *attest.Verdict {
	p, ok := d.peers[peer]
	if !ok {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.admitted
}

// peerLoop appraises one peer now, then every interval, sooner when the
// peer says hello (restart) or is unreachable (backoff up to the interval).
func (d *Gateway) peerLoop(ctx context.Context, p *peerState) {
	interval := d.cfg.Interval()
	backoff := 250 * time.Millisecond
	reset := false
	for {
		_, err := d.appraise(ctx, p, reset)
		reset = false
		next := d.nextRound(interval)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The protocol failed (not a verdict): start over with first
			// contact, and retry sooner while the peer is away.
			p.mu.Lock()
			p.activated = false
			p.mu.Unlock()
			if errors.Is(err, peerproto.ErrUnreachable) {
				next = min(backoff, interval)
				backoff = min(2*backoff, interval)
				d.log.Debug("peer unreachable", "peer", p.cfg.Name, "retry_in", next, "err", err)
			} else {
				d.log.Warn("attestation of peer failed", "peer", p.cfg.Name, "err", err)
			}
		} else {
			backoff = 250 * time.Millisecond
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case at := <-p.kick:
			t.Stop()
			p.mu.Lock()
			started := p.lastTry
			p.mu.Unlock()
			// A round that began after the hello already saw the restarted peer.
			if started.After(at) {
				if !waitTimer(ctx, next-time.Since(started)) {
					return
				}
				continue
			}
			reset = true
		case <-t.C:
		}
	}
}

// appraise runs one round against p: first contact if needed, then fresh
// evidence, appraisal, the report, and admission or revocation. The error
// is for protocol failures only; a failing verdict is a result.
func (d *Gateway) appraise(ctx context.Context, p *peerState, reset bool) (*attest.Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*peerproto.Timeout)
	defer cancel()
	p.round.Lock()
	defer p.round.Unlock()
	if activated := p.beginRound(reset); !activated {
		if err := d.firstContact(ctx, p); err != nil {
			return d.roundFailed(ctx, p, err)
		}
	}
	v, rep, err := d.freshEvidence(ctx, p)
	if err != nil {
		return d.roundFailed(ctx, p, err)
	}
	d.reachable(p)
	return d.conclude(ctx, p, v, rep)
}

// conclude keeps the round's verdict and acts on it: revocation on a
// failing one, admission (or renewal) on a passing one.
func (d *Gateway) conclude(ctx context.Context, p *peerState, v *attest.Verdict, rep *attest.Report) (*attest.Verdict, error) {
	wasAdmitted, err := d.keepVerdict(ctx, p, v, rep)
	if err != nil {
		return nil, d.protocolFailed(p, err)
	}
	if !v.Passed() {
		d.refuse(ctx, p, v)
		return v, nil
	}
	if err := d.admit(ctx, p, v, wasAdmitted); err != nil {
		return nil, d.protocolFailed(p, err)
	}
	return v, nil
}

// beginRound stamps the round's start (peerLoop compares it with hellos)
// and says whether the peer's AK is still activated in the verifier;
// reset forgets that it is.
func (p *peerState) beginRound(reset bool) (activated bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if reset {
		p.activated = false
	}
	p.lastTry = time.Now()
	return p.activated
}

// malformedError is an answer from the peer that cannot be appraised at
// all: the peer misbehaves, and that is a failing verdict (code), not a
// retry.
type malformedError struct {
	code string
	err  error
}

func (e *malformedError) Error() string { return e.err.Error() }
func (e *malformedError) Unwrap() error { return e.err }

// asMalformed marks err as a malformed answer with code, when it is one.
func asMalformed(code string, err error) error {
	if errors.Is(err, attest.ErrMalformed) {
		return &malformedError{code: code, err: err}
	}
	return err
}

// roundFailed tells the ways a round can fail apart: a malformed answer
// becomes a failing verdict with its report; a peer that does not answer
// becomes unreachable (and stays admitted until its verdict expires); any
// other failure is kept as a protocol error.
func (d *Gateway) roundFailed(ctx context.Context, p *peerState, err error) (*attest.Verdict, error) {
	var bad *malformedError
	switch {
	case errors.As(err, &bad):
		d.reachable(p)
		v, rep, verr := d.verifier.Malformed(p.cfg.Name, bad.code, err.Error())
		if verr != nil {
			return nil, d.protocolFailed(p, fmt.Errorf("%w (and its report: %w)", err, verr))
		}
		return d.conclude(ctx, p, v, rep)
	case errors.Is(err, peerproto.ErrUnreachable) && !errors.Is(err, context.Canceled):
		d.markUnreachable(ctx, p, err)
	default:
		d.reachable(p)
	}
	return nil, d.protocolFailed(p, err)
}

// markUnreachable records since when p has not answered and, on the first
// failure, logs and journals it.
func (d *Gateway) markUnreachable(ctx context.Context, p *peerState, err error) {
	p.mu.Lock()
	first := p.unreachable.IsZero()
	if first {
		p.unreachable = time.Now()
	}
	since := p.unreachable
	p.mu.Unlock()
	if !first {
		return
	}
	d.log.Warn("peer unreachable; it stays admitted until its verdict expires", "peer", p.cfg.Name, "err", err)
	d.journal(ctx, proof.KindAttestation, p.cfg.Name, ctUnreachable, map[string]any{
		"event": "unreachable", "verifier": d.cfg.Box, "peer": p.cfg.Name, "error": err.Error(), "since": since.UTC(),
	})
}

// reachable notes that p answered (whatever it said).
func (d *Gateway) reachable(p *peerState) {
	p.mu.Lock()
	was := p.unreachable
	p.unreachable = time.Time{}
	p.mu.Unlock()
	if !was.IsZero() {
		d.log.Info("peer reachable again", "peer", p.cfg.Name, "unreachable_for", time.Since(was).Round(time.Second))
	}
}

// describe adds to info what p's rounds found beyond the verdict: the
// last protocol failure, or that the peer does not answer, with since
// when and why. An unreachable peer still in the tunnel stays admitted
// (the state says where it stands in the tunnel); once its verdict has
// run out it is unreachable, not an expired pass.
func (p *peerState) describe(info *control.PeerInfo) {
	if p.unreachable.IsZero() {
		if p.lastErr != "" {
			info.Reasons = append(info.Reasons, control.Reason{Code: "protocol", Message: p.lastErr})
		}
		return
	}
	until := "its verdict has expired: revoked"
	if p.admitted != nil {
		until = "still admitted until its verdict expires at " + p.admitted.Expiry().UTC().Format(time.RFC3339)
	} else {
		info.State = control.PeerUnreachable
	}
	info.UnreachableSince = p.unreachable
	info.Reasons = append(info.Reasons, control.Reason{Code: string(control.PeerUnreachable),
		Message: fmt.Sprintf("no answer since %s (%s): %s", p.unreachable.UTC().Format(time.RFC3339), until, p.lastErr)})
}

// protocolFailed counts and keeps a protocol failure (not a verdict), for
// `wardgate peers` to show, and returns it.
func (d *Gateway) protocolFailed(p *peerState, err error) error {
	d.metrics.Attestation(api.OutcomeError)
	p.mu.Lock()
	p.lastErr = err.Error()
	p.mu.Unlock()
	return err
}

// firstContact fetches p's identity and has its TPM activate the
// verifier's credential, which proves that the AK lives beside the
// enrolled EK. A refused identity (EK chain, enrollment, activation) is
// not a protocol error: the verifier remembers the refusal, and the
// appraisal that follows turns it into a failing verdict and a signed
// report.
func (d *Gateway) firstContact(ctx context.Context, p *peerState) error {
	name := p.cfg.Name
	p.client.Reset() // a restarted peer may speak another protocol version
	id, err := p.client.Identity(ctx)
	if err != nil {
		return asMalformed(attest.ReasonIdentityMalformed, fmt.Errorf("identity: %w", err))
	}
	if d.verifier.Knows(name, id) {
		p.setActivated()
		return nil
	}
	ch, err := d.verifier.Challenge(ctx, name, id)
	if isRefusal(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	resp, err := p.client.Activate(ctx, ch)
	if err != nil {
		return asMalformed(attest.ReasonEvidenceMalformed, fmt.Errorf("activate: %w", err))
	}
	err = d.verifier.Activate(ctx, name, resp)
	if isRefusal(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	p.mu.Lock()
	p.activated = true
	p.mu.Unlock()
	return nil
}

func isRefusal(err error) bool {
	var refused *attest.RefusalError
	return errors.As(err, &refused)
}

// freshEvidence asks p for a quote over a fresh nonce and appraises it.
func (d *Gateway) freshEvidence(ctx context.Context, p *peerState) (*attest.Verdict, *attest.Report, error) {
	nonce, err := d.verifier.Nonce(p.cfg.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("nonce: %w", err)
	}
	ev, wg, rk, err := d.peerEvidence(ctx, p, nonce)
	if err != nil {
		return nil, nil, asMalformed(attest.ReasonEvidenceMalformed, fmt.Errorf("evidence: %w", err))
	}
	v, rep, err := d.verifier.Appraise(ctx, p.cfg.Name, nonce, ev, wg, rk)
	if err != nil {
		return nil, nil, fmt.Errorf("appraise: %w", err)
	}
	return v, rep, nil
}

// keepVerdict counts the verdict, keeps and journals its report, and makes
// it p's latest. It says whether p was admitted before this round.
func (d *Gateway) keepVerdict(ctx context.Context, p *peerState, v *attest.Verdict, rep *attest.Report) (wasAdmitted bool, err error) {
	if v.Passed() {
		d.metrics.Attestation(api.OutcomePass)
	} else {
		d.metrics.Attestation(api.OutcomeFail)
	}
	d.auditVerdict(p.cfg.Name, v)
	if err := d.recordReport(ctx, rep); err != nil {
		// A report that cannot be kept must not admit anybody.
		d.revoke(ctx, p, "report could not be journaled")
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.verdict = v
	p.lastErr = ""
	return p.admitted != nil, nil
}

// refuse acts on a failing verdict: p leaves the tunnel, and the next
// round starts over with first contact.
func (d *Gateway) refuse(ctx context.Context, p *peerState, v *attest.Verdict) {
	p.mu.Lock()
	p.activated = false
	p.mu.Unlock()
	d.revoke(ctx, p, "appraisal failed: "+reasonsText(v.Reasons()))
	d.log.Warn("peer refused", "peer", p.cfg.Name, "report", v.ReportID(), "reasons", reasonsText(v.Reasons()))
}

// admit hands a passing verdict to the tunnel (a renewal when p is already
// admitted) and journals a new admission.
func (d *Gateway) admit(ctx context.Context, p *peerState, v *attest.Verdict, wasAdmitted bool) error {
	name := p.cfg.Name
	pc := tunnel.PeerConfig{
		Name:       name,
		PublicKey:  v.WireGuardKey(),
		Endpoint:   d.peerEndpoint(name),
		AllowedIPs: d.cfg.PeerAllowedIPs(name),
	}
	if err := d.dev.Admit(v, pc); err != nil {
		d.revoke(ctx, p, "admission refused by the tunnel: "+err.Error())
		return fmt.Errorf("admit: %w", err)
	}
	p.mu.Lock()
	p.admitted = v
	p.mu.Unlock()
	if wasAdmitted {
		return nil
	}
	d.log.Info("peer admitted", "peer", name, "report", v.ReportID(), "expiry", v.Expiry().Format(time.RFC3339))
	d.auditPeer(admissionEvent, name, v.ReportID(), "")
	d.journal(ctx, proof.KindAttestation, name, ctAdmission, map[string]any{
		"event": "admission", "verifier": d.cfg.Box, "peer": name, "report_id": v.ReportID(),
		"wireguard_key": v.WireGuardKey(), "expiry": v.Expiry(), "time": time.Now().UTC(),
	})
	return nil
}

// revoke removes p from the tunnel (if admitted) and journals the
// revocation.
func (d *Gateway) revoke(ctx context.Context, p *peerState, reason string) {
	p.mu.Lock()
	was := p.admitted
	p.admitted = nil
	p.mu.Unlock()
	if was == nil {
		return
	}
	if err := d.dev.Revoke(p.cfg.Name, reason); err != nil {
		d.log.Error("tunnel revoke failed", "peer", p.cfg.Name, "err", err)
	}
	d.log.Warn("peer revoked", "peer", p.cfg.Name, "reason", reason)
	d.auditPeer(revocationEvent, p.cfg.Name, was.ReportID(), reason)
	d.journal(ctx, proof.KindRevocation, p.cfg.Name, ctRevocation, map[string]any{
		"event": "revocation", "verifier": d.cfg.Box, "peer": p.cfg.Name, "reason": reason,
		"report_id": was.ReportID(), "time": time.Now().UTC(),
	})
}

// onTunnelChange handles the tunnel's own expiries: a verdict that ran out
// without renewal removes the peer, and that is a revocation too.
func (d *Gateway) onTunnelChange(st tunnel.PeerStatus) {
	if st.State != tunnel.StateExpired || d.bg.Err() != nil {
		return
	}
	p, ok := d.peers[st.Name]
	if !ok {
		return
	}
	p.mu.Lock()
	was := p.admitted
	p.admitted = nil
	reason := "verdict expired without renewal"
	if !p.unreachable.IsZero() {
		reason += fmt.Sprintf(": the peer has not answered since %s: %s", p.unreachable.UTC().Format(time.RFC3339), p.lastErr)
	}
	p.mu.Unlock()
	if was == nil {
		return
	}
	d.log.Warn("peer verdict expired; removed from the tunnel", "peer", st.Name, "reason", reason)
	d.auditPeer(revocationEvent, st.Name, was.ReportID(), "verdict-expired")
	// Do not block the tunnel's goroutine on the journal's fsync.
	d.goDo(func() {
		d.journal(d.bg, proof.KindRevocation, st.Name, ctRevocation, map[string]any{
			"event": "revocation", "verifier": d.cfg.Box, "peer": st.Name, "reason": reason,
			"report_id": was.ReportID(), "time": time.Now().UTC(),
		})
	})
}

// journal appends an attestation event to the ledger; the document itself
// is not stored, only its digest (the report store keeps reports).
func (d *Gateway) journal(ctx context.Context, kind proof.Kind, peer, ct string, doc any) {
	b, err := json.Marshal(doc)
	if err != nil {
		d.log.Error("encoding ledger document", "err", err)
		return
	}
	if _, err := d.ledger.Append(context.WithoutCancel(ctx), proof.Entry{
		Kind: kind, Digest: sha256.Sum256(b), Sender: d.cfg.Box, Receiver: peer, ContentType: ct,
	}); err != nil {
		d.log.Error("ledger append failed", "kind", kind, "peer", peer, "err", err)
	}
}

// recordReport keeps the signed report and journals its digest.
func (d *Gateway) recordReport(ctx context.Context, rep *attest.Report) error {
	b, err := rep.Marshal()
	if err != nil {
		return fmt.Errorf("marshalling report: %w", err)
	}
	sum, err := summarize(b, d.recordKey.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	if err := d.reports.put(sum, b); err != nil {
		return err
	}
	if _, err := d.ledger.Append(context.WithoutCancel(ctx), proof.Entry{
		Kind: proof.KindAttestation, Digest: sha256.Sum256(b), Sender: d.cfg.Box, Receiver: sum.Peer, ContentType: ctReport,
	}); err != nil {
		return fmt.Errorf("journaling report %s: %w", sum.ID, err)
	}
	return nil
}

// waitTimer sleeps d (if positive); false if ctx ended first.
func waitTimer(ctx context.Context, d time.Duration) bool { return tick.Sleep(ctx, d) }

func reasonsText(rs []attest.Reason) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Code+": "+r.Message)
	}
	if len(s) == 0 {
		return "no reasons given"
	}
	return strings.Join(s, "; ")
}

func controlReasons(rs []attest.Reason) []control.Reason {
	var out []control.Reason
	for _, r := range rs {
		out = append(out, control.Reason{Code: r.Code, Message: r.Message})
	}
	return out
}

// peerStateOf names the tunnel's state of a peer for the control plane.
// The names agree today; the switch ties each tunnel state to its control
// name, and passes one it does not know through rather than hide it.
func peerStateOf(s string) control.PeerState {
	switch s {
	case tunnel.StateAdmitted:
		return control.PeerAdmitted
	case tunnel.StateRevoked:
		return control.PeerRevoked
	case tunnel.StateExpired:
		return control.PeerExpired
	case tunnel.StateNeverAdmitted:
		return control.PeerNeverAdmitted
	}
	return control.PeerState(s)
}
