package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/witness"
)

// gatewayWitness is the box's part in C2SP witnessing: the witness that
// cosigns its admitted peers' checkpoints, and the pusher that has its own
// cosigned by them (docs/design.md, "Witnessing").
type gatewayWitness struct {
	w *witness.Witness
	p *witness.Pusher
}

// witnessTimeout bounds one add-checkpoint round trip through the tunnel.
const witnessTimeout = 10 * time.Second

// newWitness builds the witness and the pusher unless witness.off; the
// witness state and the evidence it keeps live in the state dir.
func (d *Gateway) newWitness() error {
	c := d.cfg
	if c.Witness.Off || d.ledger == nil {
		return nil
	}
	signer, err := proof.NewKeySigner(d.recordKey)
	if err != nil {
		return err
	}
	log := d.log.With("component", "witness")
	w, err := witness.New(witness.Config{
		Box: c.Box, Signer: signer, Logs: witnessLogs{d}, Logger: log,
		StatePath: filepath.Join(c.StateDir, "witness.json"),
		Evidence:  witness.JournalEvidence(d.ledger, c.Box, filepath.Join(c.StateDir, "witness-evidence")),
	})
	if err != nil {
		return err
	}
	client := &witness.Client{
		HTTP: &http.Client{Timeout: witnessTimeout, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					host = addr
				}
				return d.dialPeerRelay(ctx, host)
			},
		}},
		URL: func(peer string) string { return "http://" + peer },
	}
	p := witness.NewPusher(witness.PusherConfig{Log: d.ledger, Client: client, Peers: d.peerNames, Verifier: d.witnessVerifier, Logger: log})
	d.witness = &gatewayWitness{w: w, p: p}
	return nil
}

// peerHandler is the peer records listener's handler: the relay's peer
// protocol, and the witness at witness.Path.
func (d *Gateway) peerHandler() http.Handler {
	h := d.relay.PeerHandler()
	if d.witness == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle(witness.Path, d.witness.w.Handler())
	mux.Handle("/", h)
	return mux
}

// startWitnessing pushes the newest checkpoint to the peers' witnesses
// every witness.interval.
func (d *Gateway) startWitnessing() {
	if d.witness == nil {
		return
	}
	d.goDo(func() { d.witness.p.Run(d.bg, d.cfg.WitnessInterval()) })
}

func (d *Gateway) peerNames() []string {
	out := make([]string, 0, len(d.cfg.Peers))
	for _, p := range d.cfg.Peers {
		out = append(out, p.Name)
	}
	return out
}

// witnessVerifier is peer's cosignature verifier under the record key its
// current verdict binds; a peer not admitted now has none.
func (d *Gateway) witnessVerifier(peer string) (note.Verifier, bool) {
	v := d.Verdict(peer)
	if v == nil {
		return nil, false
	}
	nv, err := proof.CosignatureVerifier(peer, v.RecordKey())
	if err != nil {
		d.log.Warn("witness: no cosignature verifier for peer", "peer", peer, "err", err)
		return nil, false
	}
	return nv, true
}

// witnessLogs answers the witness: the logs it witnesses are those of
// the peers admitted now, under the record key their verdict binds.
type witnessLogs struct{ d *Gateway }

func (l witnessLogs) LogKey(origin string) (string, ed25519.PublicKey, bool) {
	box, ok := strings.CutPrefix(origin, proof.OriginPrefix)
	if !ok {
		return "", nil, false
	}
	v := l.d.Verdict(box)
	if v == nil {
		return "", nil, false
	}
	return box, v.RecordKey(), true
}

// dialPeerRelay dials peer's records listener through the tunnel.
func (d *Gateway) dialPeerRelay(ctx context.Context, peer string) (net.Conn, error) {
	ap, ok := d.peerRelayAddrs()[peer]
	if !ok {
		return nil, fmt.Errorf("unknown peer %q", peer)
	}
	return d.dev.DialContext(ctx, "tcp", ap.String())
}

// LedgerProof implements control.ProofBackend: the tlog-proof of the
// record's entry, against the newest cosigned checkpoint when there is one.
func (d *Gateway) LedgerProof(ctx context.Context, digest [32]byte) ([]byte, error) {
	if d.ledger == nil {
		return nil, control.ErrNotReady
	}
	r, err := d.ledger.ReceiptByDigest(ctx, digest)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", control.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	return proof.TLogProof(r)
}

var (
	descWitnessRequests = prometheus.NewDesc("wardgate_witness_requests_total",
		"Peers' checkpoints this box was asked to cosign, by outcome: cosigned, conflict (stale old size), fork and inconsistent (refused, evidence journaled), bad_signature, unknown_log, malformed, error.",
		[]string{"outcome"}, nil)
	descWitnessOwn = prometheus.NewDesc("wardgate_witness_own_checkpoints_total",
		"This box's checkpoints offered to its peers' witnesses, by result: cosigned, contradicted (the witness holds a cosigned checkpoint this one contradicts), failed (other refusals, or unreachable).",
		[]string{"result"}, nil)
)

// witnessCollector exports the witness's and the pusher's counts.
type witnessCollector struct{ g *gatewayWitness }

func (c witnessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descWitnessRequests
	ch <- descWitnessOwn
}

func (c witnessCollector) Collect(ch chan<- prometheus.Metric) {
	req := c.g.w.Stats()
	for _, k := range witness.Outcomes {
		ch <- prometheus.MustNewConstMetric(descWitnessRequests, prometheus.CounterValue, float64(req[k]), k)
	}
	own := c.g.p.Stats()
	for _, k := range witness.Results {
		ch <- prometheus.MustNewConstMetric(descWitnessOwn, prometheus.CounterValue, float64(own[k]), k)
	}
}

// registerWitnessMetrics adds the witnessing counters when witnessing is on.
func (d *Gateway) registerWitnessMetrics() {
	if d.witness != nil {
		d.metrics.Registry().MustRegister(witnessCollector{d.witness})
	}
}
