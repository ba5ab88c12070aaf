// Package relay moves hospital records between wardgate boxes through the
// attested tunnel, with signed, journaled, countersigned receipts.
//
// A box runs three faces of one Relay:
//   - LANHandler: hospital systems POST records (FHIR, CDA, HL7 v2, any
//     bytes) with a To: peer header, and GET receipts by digest.
//   - ServeMLLP: HL7 v2 over MLLP; the ACK (AA or AE) is sent only after the
//     record is journaled, forwarded, delivered and countersigned.
//   - PeerHandler: served on the tunnel listener; receives records from peers.
//
// Sending: the relay checks the peer's current verdict (admitted, not
// expired), hashes the body, journals a KindSent entry (the ledger signs it
// with the record key bound in this box's attestation), forwards body and
// signed entry through the tunnel, and waits for the peer's countersignature.
// Records to one peer travel in batches (batch.go): whatever queued while
// the previous batches were in flight, so an idle box sends a record at
// once and a busy one pays one request, one signature check and one
// countersignature per batch. Entry and countersignature signatures are
// batch signatures (ledger.BatchProof): each still verifies on its own.
// Receiving: the relay checks the sender's current verdict, the entry
// signature against that verdict's record key, and the digest against the
// body; delivers to the LAN endpoint; journals a KindReceived entry; and
// countersigns.
//
// Idempotency: a record is identified by (sender, receiver, digest). A
// sender that retries the same bytes to the same peer reuses its journaled
// sent entry; a receiver that already journaled (sender, digest) returns
// its countersignature again without delivering twice. Identical bytes sent
// twice to the same peer are therefore one record. Delivery to the LAN is
// at least once: if the receiver's journal write fails after delivery, a
// retry delivers again.
//
// Receipts: POST /v1/records answers with the sender's pending ledger
// receipt (inclusion in a signed checkpoint) plus the receiver's
// countersignature; GET /v1/receipts/{digest} returns it anchored once the
// ledger anchored the checkpoint. Countersignatures are kept in memory; after
// a restart the sender asks the receiver again (POST /v1/peer/countersign,
// entry only, no body) and the receipt's "delivery" field says
// countersigned, not_received or unknown.
//
// Bodies never touch disk: they are read into memory with a size bound,
// hashed, forwarded from memory and dropped. Only digests and metadata reach
// the ledger. The relay never parses multipart forms (the one place net/http
// spools to temporary files).
package records

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/internal/names"
	"github.com/wardgate/wardgate/internal/netlimit"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/consent"
	"github.com/wardgate/wardgate/records/receipt"
	"github.com/wardgate/wardgate/records/route"
)

// Verdicts gives the current verdict of each peer (nil if none). The daemon
// backs it with the tunnel's admission state.
type Verdicts interface {
	Verdict(peer string) *attest.Verdict
}

// Journal is the part of the ledger the relay uses; *ledger.Ledger satisfies it.
type Journal interface {
	Append(ctx context.Context, e proof.Entry) (ledger.Appended, error)
	Lookup(digest [32]byte) []uint64
	Entry(ctx context.Context, seq uint64) (*proof.Entry, error)
	Receipt(ctx context.Context, seq uint64) (*proof.Receipt, error)
	Checkpoint(ctx context.Context) (proof.Checkpoint, error)
	CheckpointSize() uint64
}

// Config configures a Relay.
type Config struct {
	Box       string  // this box's name (the sender/receiver in entries)
	Ledger    Journal // this box's ledger; it signs entries with the record key
	RecordKey proof.Signer
	Verdicts  Verdicts

	// Dial opens a connection through the tunnel to peer's relay
	// (PeerHandler) port: the netstack dialer in userspace mode, or the
	// peer's tunnel address in tun mode.
	Dial func(ctx context.Context, peer string) (net.Conn, error)

	// Routes send each received record to the hospital system that takes
	// it (deliver.go); the first route that matches wins. Deliver is the
	// one-endpoint shorthand, used when Routes is empty.
	Routes  []Route
	Deliver Delivery

	// MLLPRoutes maps an HL7 receiving facility (MSH-6, first component) to
	// a peer; MLLPPeer is the peer for messages without a matching route.
	MLLPRoutes map[string]string
	MLLPPeer   string

	// Consent is the consent gate (consentgate.go); nil or mode off
	// forwards every record as before.
	Consent *consent.Gate

	// CheckpointPace is the shortest time between checkpoints the relay
	// asks for so that fresh receipts have one to prove inclusion in
	// (default 20ms). Longer means fewer checkpoints, later receipts.
	CheckpointPace time.Duration

	MaxBody        int64         // largest record accepted (default DefaultMaxBody)
	ForwardTimeout time.Duration // forward + delivery + countersign (default 30s)
	// MLLPLimits bound the MLLP intake (ServeMLLP); zero fields take the
	// netlimit defaults.
	MLLPLimits netlimit.Limits
	// ReceiptLookups is the receipt lookups (GET /v1/receipts) served per
	// second, burst twice that (default 50).
	ReceiptLookups float64
	// ClientPeers limits an mTLS client, by certificate subject common
	// name, to the peers it may send to (unlisted subjects: any peer).
	ClientPeers map[string][]string
	// OnRecord, when set, is told each record sent, received or refused,
	// by digest (the audit trail); it must not block.
	OnRecord func(RecordEvent)
	Now      func() time.Time
	Logger   *slog.Logger
}

// dialTimeout bounds connecting to a peer through the tunnel. WireGuard
// resends a lost handshake initiation after 5 s (plus up to 334 ms of
// jitter), so a dial must outlast two attempts: at 5 s, a cold tunnel whose
// first initiation was dropped failed just as the retry would have worked.
const dialTimeout = 11 * time.Second

// DefaultMaxBody is the record size limit when Config.MaxBody is zero.
const DefaultMaxBody = 16 << 20

// Named refusals. Each maps to an HTTP status on the LAN side and an AE on MLLP.
var (
	ErrNotAdmitted     = errors.New("relay: peer is not admitted")
	ErrVerdictExpired  = errors.New("relay: peer's attestation verdict has expired")
	ErrTooLarge        = errors.New("relay: record too large")
	ErrBadRequest      = errors.New("relay: bad request")
	ErrPeerUnreachable = errors.New("relay: peer unreachable through the tunnel")
	ErrDeliveryFailed  = errors.New("relay: the receiving hospital's system did not take the record")
	ErrPeerRefused     = errors.New("relay: peer refused the record")
	ErrBadSignature    = errors.New("relay: entry signature does not verify with the sender's attested record key")
	ErrNoRoute         = errors.New("relay: no peer route for HL7 message")
	ErrNotReceived     = errors.New("relay: peer has not received this record")
	// ErrNotMLLP: a record cannot be delivered as one MLLP frame.
	ErrNotMLLP = errors.New("relay: record cannot be delivered over MLLP")
)

// Relay forwards and receives records. Safe for concurrent use.
type Relay struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	// eps are the routes' endpoints, table their matches; classify is
	// false when every route takes any record (no need to parse it).
	eps       []*endpoint
	table     route.Table
	classify  bool
	batchFHIR bool // some endpoint takes FHIR batch Bundles
	pacer     *cpPacer
	// lookups bounds GET /v1/receipts: an uncached lookup asks a peer.
	lookups *rate.Limiter

	sigs *proof.SigCache // peers' batch roots already verified
	stop chan struct{}   // closed by Close: batch pumps end
	wg   sync.WaitGroup

	mu       sync.Mutex
	inflight map[flightKey]*flight
	outs     map[string]*peerOut // per-peer batch queues
	stopped  bool
	cs       *csCache

	stats struct {
		sent, received, refused, deliveryFailed, bytesSent, bytesReceived atomic.Uint64
		batches, batchRecords                                             atomic.Uint64
		noRoute                                                           atomic.Uint64
	}
}

// Stats are cumulative counters for metrics.
type Stats struct {
	Sent           uint64 `json:"sent"`            // records forwarded and countersigned
	Received       uint64 `json:"received"`        // records from peers delivered and journaled
	Refused        uint64 `json:"refused"`         // sends refused or failed (any reason)
	DeliveryFailed uint64 `json:"delivery_failed"` // records from peers this box's LAN endpoint did not take
	BytesSent      uint64 `json:"bytes_sent"`
	BytesReceived  uint64 `json:"bytes_received"`
	Batches        uint64 `json:"batches"`       // peer batches sent
	BatchRecords   uint64 `json:"batch_records"` // records those batches carried
}

// Stats returns the counters.
func (r *Relay) Stats() Stats {
	s := &r.stats
	return Stats{Sent: s.sent.Load(), Received: s.received.Load(), Refused: s.refused.Load(),
		DeliveryFailed: s.deliveryFailed.Load(), BytesSent: s.bytesSent.Load(), BytesReceived: s.bytesReceived.Load(),
		Batches: s.batches.Load(), BatchRecords: s.batchRecords.Load()}
}

type flightKey struct {
	peer   string
	digest [32]byte
	recv   bool
}

type flight struct {
	done chan struct{}
	res  *receipt.Receipt // a send's receipt
	recv *proof.Entry     // a receive's journaled entry
	err  error
}

// New validates cfg and returns a Relay.
func New(cfg Config) (*Relay, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	r := &Relay{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "relay", "box", cfg.Box),
		inflight: make(map[flightKey]*flight),
		outs:     make(map[string]*peerOut),
		sigs:     proof.NewSigCache(1 << 14),
		stop:     make(chan struct{}),
		cs:       newCSCache(1 << 16),
		pacer:    newCPPacer(cfg.Ledger, cfg.CheckpointPace),
		lookups:  rate.NewLimiter(rate.Limit(cfg.ReceiptLookups), 2*int(cfg.ReceiptLookups)+1),
		client:   peerClient(cfg.Dial, cfg.ForwardTimeout),
	}
	var err error
	if r.eps, r.table, err = newEndpoints(cfg.routes(), cfg.MaxBody, r.log); err != nil {
		return nil, err
	}
	for i, m := range r.table {
		r.classify = r.classify || m != (route.Match{Content: route.Any})
		r.batchFHIR = r.batchFHIR || r.eps[i].cfg.FHIRBatch
	}
	return r, nil
}

// validate refuses a config without its parts, with a bad box name, or
// with a delivery or MLLP route that cannot work.
func (cfg *Config) validate() error {
	switch {
	case cfg.Box == "":
		return errors.New("relay: config box name is empty")
	case cfg.Ledger == nil:
		return errors.New("relay: config ledger is nil")
	case cfg.RecordKey == nil:
		return errors.New("relay: config record key is nil; pass the attested record signer")
	case cfg.Verdicts == nil:
		return errors.New("relay: config verdicts is nil")
	case cfg.Dial == nil:
		return errors.New("relay: config dial is nil; pass the tunnel dialer")
	}
	if err := checkName("box", cfg.Box); err != nil {
		return err
	}
	if err := cfg.Deliver.validate(); err != nil {
		return err
	}
	if len(cfg.Routes) > 0 && (cfg.Deliver != Delivery{}) {
		return errors.New("relay: config sets both Routes and Deliver; Deliver is the one-route shorthand, keep one")
	}
	for fac, peer := range cfg.MLLPRoutes {
		if err := checkName("mllp route peer for facility "+fac, peer); err != nil {
			return fmt.Errorf("relay: config: %w", err)
		}
	}
	return nil
}

// setDefaults fills in what cfg leaves unset.
func (cfg *Config) setDefaults() {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.ReceiptLookups <= 0 {
		cfg.ReceiptLookups = 50
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 30 * time.Second
	}
	if cfg.CheckpointPace <= 0 {
		cfg.CheckpointPace = 20 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

// peerClient is the HTTP client for peer batches, dialing peers through
// the tunnel.
func peerClient(dial func(ctx context.Context, host string) (net.Conn, error), forwardTimeout time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			// A peer whose tunnel is down never answers the handshake:
			// fail fast rather than hold the hospital's request.
			ctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			return dial(ctx, host)
		},
		MaxIdleConnsPerHost:   512,
		MaxIdleConns:          4096,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: forwardTimeout,
		DisableCompression:    true,
	}}
}

// Close stops the batch senders and releases idle connections. Records
// still queued are refused as unreachable (the sender may retry them).
func (r *Relay) Close() error {
	r.mu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.stop)
	}
	outs := r.outs
	r.mu.Unlock()
	r.wg.Wait()
	for _, po := range outs {
		for {
			select {
			case o := <-po.q:
				o.done <- outResult{err: fmt.Errorf("%w: %q: relay is closing; retry with the same record", ErrPeerUnreachable, po.peer)}
				continue
			default:
			}
			break
		}
	}
	r.client.CloseIdleConnections()
	for _, ep := range r.eps {
		ep.close()
	}
	return nil
}

// checkName checks a peer or box name by the one box-name rule (see
// internal/names); a bad name is the caller's mistake, so ErrBadRequest.
func checkName(field, s string) error {
	if err := names.CheckBox(field, s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// admitted returns the peer's current verdict if it admits the peer now.
func (r *Relay) admitted(peer string) (*attest.Verdict, error) {
	v := r.cfg.Verdicts.Verdict(peer)
	if v == nil {
		return nil, fmt.Errorf("%w: %q has no verdict (never attested, or revoked); check `wardgate peers`", ErrNotAdmitted, peer)
	}
	if !v.Passed() {
		msg := ""
		if rs := v.Reasons(); len(rs) > 0 {
			msg = ": " + rs[0].Code + ": " + rs[0].Message
		}
		return nil, fmt.Errorf("%w: %q failed attestation%s", ErrNotAdmitted, peer, msg)
	}
	if !v.Valid(r.cfg.Now()) {
		return nil, fmt.Errorf("%w: %q verdict expired at %s and was not renewed", ErrVerdictExpired, peer, v.Expiry().UTC().Format(time.RFC3339))
	}
	return v, nil
}

// Send forwards one record to peer and returns its receipt once the peer has
// delivered and countersigned it. It refuses before journaling anything if
// the peer is not admitted or the body is too large. Retrying the same body
// to the same peer is idempotent.
func (r *Relay) Send(ctx context.Context, peer, contentType string, body []byte) (*receipt.Receipt, error) {
	rc, err := r.sendChecked(ctx, peer, contentType, body)
	if err != nil {
		r.stats.refused.Add(1)
		r.auditRefused(peer, body, err)
		return nil, err
	}
	r.stats.sent.Add(1)
	r.audit(RecordSent, peer, rc.Digest, nil)
	r.stats.bytesSent.Add(uint64(len(body)))
	return rc, nil
}

func (r *Relay) sendChecked(ctx context.Context, peer, contentType string, body []byte) (*receipt.Receipt, error) {
	if err := checkName("peer (To:)", peer); err != nil {
		return nil, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if len(contentType) > 200 {
		return nil, fmt.Errorf("%w: Content-Type is %d bytes, limit 200", ErrBadRequest, len(contentType))
	}
	if int64(len(body)) > r.cfg.MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, limit %d bytes", ErrTooLarge, len(body), r.cfg.MaxBody)
	}
	if peer == r.cfg.Box {
		return nil, fmt.Errorf("%w: To: names this box %q; name the receiving peer", ErrBadRequest, peer)
	}
	v, err := r.admitted(peer)
	if err != nil {
		return nil, err
	}
	cf, err := r.consentCheck(ctx, peer, contentType, body)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(body)
	// Concurrent identical sends share one journal entry and one forward.
	key := flightKey{peer: peer, digest: digest}
	r.mu.Lock()
	if f, ok := r.inflight[key]; ok {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.res, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	r.inflight[key] = f
	r.mu.Unlock()
	f.res, f.err = r.send(ctx, v, peer, contentType, digest, body, cf)
	r.mu.Lock()
	delete(r.inflight, key)
	r.mu.Unlock()
	close(f.done)
	return f.res, f.err
}

func (r *Relay) send(ctx context.Context, v *attest.Verdict, peer, contentType string, digest [32]byte, body []byte, cf proof.ConsentFields) (*receipt.Receipt, error) {
	sent, err := r.sentEntry(ctx, peer, contentType, digest, cf)
	if err != nil {
		return nil, err
	}
	raw, err := sent.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("relay: encoding sent entry: %w", err)
	}
	// The ledger receipt (which may sign and journal a checkpoint) is built
	// while the record travels, keeping that write off the critical path.
	type lrRes struct {
		lr  *proof.Receipt
		err error
	}
	lrc := make(chan lrRes, 1)
	go func() {
		if err := r.pacer.ensure(ctx, sent.Seq); err != nil {
			lrc <- lrRes{nil, err}
			return
		}
		lr, err := r.cfg.Ledger.Receipt(ctx, sent.Seq)
		lrc <- lrRes{lr, err}
	}()
	fctx, cancel := context.WithTimeout(ctx, r.cfg.ForwardTimeout)
	defer cancel()
	// A retry forwards the first attempt's entry, so its content type too.
	cs, err := r.forward(fctx, peer, raw, body)
	if err != nil {
		return nil, err
	}

	// The tunnel already authenticates the peer's box; the countersignature
	// is what the hospital keeps, so check it here (Countersign.Verify, run
	// offline, also re-checks the received entry's own signature).
	if err := cs.Check(v.RecordKey(), raw, false, r.sigs); err != nil {
		return nil, fmt.Errorf("relay: peer %q: %w", peer, err)
	}
	r.cs.put(digest, peer, cs)
	res := <-lrc
	if res.err != nil {
		return nil, fmt.Errorf("relay: ledger receipt for entry %d: %w", sent.Seq, res.err)
	}
	return receipt.New(res.lr, cs)
}

// sentEntry journals the KindSent entry, or returns the one journaled by an
// earlier attempt with the same digest to the same peer.
func (r *Relay) sentEntry(ctx context.Context, peer, contentType string, digest [32]byte, cf proof.ConsentFields) (*proof.Entry, error) {
	for _, seq := range r.cfg.Ledger.Lookup(digest) {
		e, err := r.cfg.Ledger.Entry(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("relay: reading journal entry %d: %w", seq, err)
		}
		if e.Kind == proof.KindSent && e.Receiver == peer && e.Sender == r.cfg.Box {
			return e, nil
		}
	}
	a, err := r.cfg.Ledger.Append(ctx, proof.Entry{Kind: proof.KindSent, Digest: digest, Sender: r.cfg.Box, Receiver: peer, ContentType: contentType, Consent: cf})
	if err != nil {
		return nil, fmt.Errorf("relay: journaling sent entry: %w", err)
	}
	return &a.Entry, nil
}

// receipt builds the receipt this box hands its hospital system.
func (r *Relay) receipt(ctx context.Context, seq uint64, cs *receipt.Countersign) (*receipt.Receipt, error) {
	lr, err := r.cfg.Ledger.Receipt(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("relay: ledger receipt for entry %d: %w", seq, err)
	}
	return receipt.New(lr, cs)
}
