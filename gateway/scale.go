package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/attest/ima"
	"github.com/wardgate/wardgate/attest/peerproto"
	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/gateway/config"
)

// scaleState is the daemon's part in batched quotes and runtime
// integrity (issue 15): the simulated box's IMA, if it keeps one.
type scaleState struct {
	measurer *ima.Measurer
	gate     tpmGate
}

// openSimulator opens the in-process simulator with the configured
// discrete-TPM latency.
func openSimulator(c *config.Config) (attest.TPM, error) {
	t, err := devtpm.OpenSimulatorWith(c.StateDir, devtpm.Latency(c.TPMLatency()))
	if err != nil {
		return nil, fmt.Errorf("tpm.simulator: %w", err)
	}
	return t, nil
}

// attesterConfig is the attester's config: with a runtime list (and PCR 10
// quoted) when attestation.runtime is set.
func (d *Gateway) attesterConfig(ctx context.Context, evlog []byte) (attest.AttesterConfig, error) {
	ac := attest.AttesterConfig{StateDir: d.cfg.StateDir, EventLog: evlog, Logger: d.log}
	r := d.cfg.Attestation.Runtime
	if r == nil {
		return ac, nil
	}
	ac.PCRs = append(attest.DefaultPCRs(), ima.PCR)
	if d.cfg.TPM.Source == config.TPMDevice {
		path := r.List
		if path == "" {
			path = ima.KernelListPath
		}
		ac.Runtime = ima.KernelList{Path: path}
		return ac, nil
	}
	m, err := ima.NewMeasurer(ctx, d.tpm, r.Measure, d.log)
	if err != nil {
		return ac, fmt.Errorf("attestation.runtime.measure: %w", err)
	}
	d.scale.measurer = m
	ac.Runtime = m
	return ac, nil
}

// watchRuntime re-measures the simulated box's files when they change, as
// the kernel's IMA does for a changed executable.
func (d *Gateway) watchRuntime(ctx context.Context) {
	if d.scale.measurer != nil {
		d.scale.measurer.Watch(ctx, d.cfg.RuntimePoll())
	}
}

// runtimePolicy loads the signed runtime policy, if one is configured.
func (d *Gateway) runtimePolicy(vks []ed25519.PublicKey) (*firmware.RuntimePolicy, error) {
	r := d.cfg.Attestation.Runtime
	if r == nil {
		return nil, nil
	}
	p, err := firmware.LoadRuntimePolicy(r.Policy, r.Signature, vks)
	if err != nil {
		return nil, fmt.Errorf("attestation.runtime.policy: %w", err)
	}
	return p, nil
}

// attestHandlerConfig is the attestation handler's budget and batching.
func (d *Gateway) attestHandlerConfig() peerproto.HandlerConfig {
	return peerproto.HandlerConfig{Budget: peerproto.DefaultBudget, BatchWindow: d.cfg.BatchWindow()}
}

// EvidenceSince implements peerproto.ScaleBox.
func (b protoBox) EvidenceSince(ctx context.Context, nonce []byte, from uint64) (*attest.Evidence, error) {
	b.d.attMu.Lock()
	defer b.d.attMu.Unlock()
	return b.d.evidence(ctx, nonce, from)
}

// evidence is one unbatched quote with the runtime list from from. Called
// with attMu held.
func (d *Gateway) evidence(ctx context.Context, nonce []byte, from uint64) (*attest.Evidence, error) {
	ev, err := d.attester.Evidence(ctx, nonce, d.wgKey, d.recordKey.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	if err := d.attester.RuntimeSince(ev, from); err != nil {
		return nil, err
	}
	return ev, nil
}

// BatchEvidence implements peerproto.ScaleBox.
func (b protoBox) BatchEvidence(ctx context.Context, reqs []attest.BatchRequest) ([]*attest.Evidence, error) {
	defer b.d.scale.gate.enter(true)()
	b.d.attMu.Lock()
	defer b.d.attMu.Unlock()
	evs, err := b.d.attester.BatchEvidence(ctx, reqs, b.d.wgKey, b.d.recordKey.Public().(ed25519.PublicKey))
	if err == nil {
		b.d.log.Debug("batched quote", "challenges", len(reqs))
	}
	return evs, err
}

// peerEvidence asks p for evidence over nonce with the runtime list from
// where this verifier stands; a v1 answer from a peer that spoke v2, or
// an unbound one from a peer that bound before, is a malformed answer
// with its own reason.
func (d *Gateway) peerEvidence(ctx context.Context, p *peerState, nonce []byte) (*attest.Evidence, [32]byte, ed25519.PublicKey, error) {
	ev, wg, rk, err := p.client.EvidenceSince(ctx, nonce, d.verifier.RuntimeFrom(p.cfg.Name))
	if errors.Is(err, peerproto.ErrDowngrade) {
		return nil, wg, nil, &malformedError{code: attest.ReasonBatchDowngrade, err: fmt.Errorf("evidence: %w", err)}
	}
	if errors.Is(err, peerproto.ErrUnbound) {
		return nil, wg, nil, &malformedError{code: attest.ReasonChannelBinding, err: fmt.Errorf("evidence: %w", err)}
	}
	return ev, wg, rk, err
}

// nextRound is how long until p's next round. With batching on, rounds
// start on the interval's wall-clock boundaries, so that every verifier's
// challenge to a box lands in the same batch window (clocks of a
// consortium agree to well within a window through NTP); otherwise one
// interval after the last.
func (d *Gateway) nextRound(interval time.Duration) time.Duration {
	if d.cfg.BatchWindow() == 0 {
		return interval
	}
	// The next boundary, never skipped: a round that ran long (a burst of
	// appraisals) must still renew before its verdicts expire.
	now := time.Now()
	return now.Truncate(interval).Add(interval).Sub(now)
}

// registerScaleMetrics exports the TPM quotes this box has made: with
// batching, about one per interval whatever the number of peers.
func (d *Gateway) registerScaleMetrics() {
	d.metrics.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wardgate_tpm_quotes_total",
		Help: "TPM quotes this box made for its own evidence (one per batch window with batching on).",
	}, func() float64 { return float64(d.attester.Quotes()) }), admittedCollector{d})
}

var descPeerAdmitted = prometheus.NewDesc("wardgate_peer_admitted",
	"1 while the peer is admitted to the tunnel on a passing verdict, else 0.", []string{"peer"}, nil)

// admittedCollector exports each peer's admission at scrape time.
type admittedCollector struct{ d *Gateway }

func (c admittedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descPeerAdmitted }

func (c admittedCollector) Collect(ch chan<- prometheus.Metric) {
	for name, p := range c.d.peers {
		p.mu.Lock()
		v := 0.0
		if p.admitted != nil {
			v = 1
		}
		p.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(descPeerAdmitted, prometheus.GaugeValue, v, name)
	}
}

// setActivated records that p's AK is activated in the verifier.
func (p *peerState) setActivated() {
	p.mu.Lock()
	p.activated = true
	p.mu.Unlock()
}

// tpmGate orders this box's slow TPM work: a batched quote, which renews
// every peer's verdict at once, goes before credential activations still
// waiting. A consortium starting together asks each box for N-1
// activations (250 ms each on a discrete TPM); behind them the renewals
// would arrive after the first verdicts expired. Unbatched quotes are not
// urgent: at N-1 per interval they could starve activations.
type tpmGate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	busy   bool
	urgent int // urgent callers waiting
}

// enter waits for the gate and returns its release.
func (g *tpmGate) enter(urgent bool) func() {
	g.mu.Lock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	if urgent {
		g.urgent++
	}
	for g.busy || (!urgent && g.urgent > 0) {
		g.cond.Wait()
	}
	if urgent {
		g.urgent--
	}
	g.busy = true
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.busy = false
		g.cond.Broadcast()
		g.mu.Unlock()
	}
}
