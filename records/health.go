package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardgate/wardgate/internal/tick"
)

// EndpointState is how a delivery endpoint stands, from what its last
// deliveries found.
type EndpointState string

const (
	// EndpointUnknown: no record went to it yet in this run.
	EndpointUnknown EndpointState = "unknown"
	// EndpointUp: its last delivery went through, none failed in the last minute.
	EndpointUp EndpointState = "up"
	// EndpointDegraded: reachable, but it refused its last record, or a
	// delivery failed in the last minute.
	EndpointDegraded EndpointState = "degraded"
	// EndpointDown: its last delivery could not reach it or got no answer in time.
	EndpointDown EndpointState = "down"
)

// degradedFor is how long a failure keeps an endpoint degraded after a success.
const degradedFor = time.Minute

// DeliveryBuckets are the upper bounds (seconds) of the delivery time histogram.
var DeliveryBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// EndpointHealth is one route's endpoint as this box last saw it.
type EndpointHealth struct {
	Route       string
	Endpoint    string // its URL: this box's own status, never sent to peers
	State       EndpointState
	Since       time.Time // when it entered State
	LastError   string    // the refusal code of its last failure
	LastErrorAt time.Time
	LastSuccess time.Time
	InFlight    int64
	// Outcomes counts deliveries by outcome: "delivered" or a refusal code.
	Outcomes map[string]uint64
	// Buckets[i] counts deliveries that took at most DeliveryBuckets[i]
	// (cumulative); Count and Sum are all of them and their seconds.
	Buckets []uint64
	Count   uint64
	Sum     float64
}

// outcomeDelivered is the outcome label of a delivery that went through.
const outcomeDelivered = "delivered"

// health is one endpoint's delivery record.
type health struct {
	inflight atomic.Int64

	mu       sync.Mutex
	state    EndpointState
	since    time.Time
	lastErr  string
	errAt    time.Time
	okAt     time.Time
	outcomes map[string]uint64
	buckets  []uint64
	count    uint64
	sum      float64
}

// begin counts a delivery to ep in flight; the returned func records its outcome.
func (ep *endpoint) begin() func(error) {
	ep.health.inflight.Add(1)
	t0 := time.Now()
	return func(err error) {
		ep.health.inflight.Add(-1)
		ep.observe(time.Since(t0), err)
	}
}

// observe records one delivery's outcome and logs the endpoint's state
// changes, once each: back up at INFO, degraded or down at WARN with the
// endpoint's URL (this box's own log; peers never see it) and the code.
// The records refused meanwhile are logged at DEBUG (logRefused).
func (ep *endpoint) observe(d time.Duration, err error) {
	from, to, changed := ep.health.record(d, err)
	ep.logChange(from, to, changed, err)
}

// logChange logs an endpoint's state change, if there was one.
func (ep *endpoint) logChange(from, to EndpointState, changed bool, err error) {
	if !changed || ep.log == nil {
		return
	}
	attrs := []any{"route", ep.name, "endpoint", ep.url, "state", to, "was", from}
	if to == EndpointUp {
		ep.log.Info("delivery endpoint up", attrs...)
		return
	}
	code, _ := classify(err)
	sum := sha256.Sum256([]byte(err.Error()))
	ep.log.Warn("delivery endpoint "+string(to), append(attrs, "code", code, "err_digest", hex.EncodeToString(sum[:8]))...)
}

// record notes one delivery's outcome and duration, and returns the
// endpoint's state before and after it.
func (h *health) record(d time.Duration, err error) (from, to EndpointState, changed bool) {
	now := time.Now()
	out := outcomeDelivered
	if err != nil {
		out, _ = classify(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.outcomes == nil {
		h.outcomes = map[string]uint64{}
		h.buckets = make([]uint64, len(DeliveryBuckets))
	}
	h.outcomes[out]++
	s := d.Seconds()
	for i, b := range DeliveryBuckets {
		if s <= b {
			h.buckets[i]++
		}
	}
	h.count++
	h.sum += s
	var de *deliveryError
	if err != nil && !errors.As(err, &de) {
		return h.state, h.state, false // the record's own fault (not MLLP-framable): says nothing of the endpoint
	}
	next := EndpointUp
	switch {
	case out == codeDelivery || out == codeAckTimeout:
		next = EndpointDown
	case err != nil:
		next = EndpointDegraded
	}
	if err != nil {
		h.lastErr, h.errAt = out, now
	} else {
		h.okAt = now
	}
	from = h.state
	if from == "" {
		from = EndpointUnknown
	}
	if next != h.state {
		h.state, h.since = next, now
		// The first success of a run is no news; a first failure is.
		return from, next, from != EndpointUnknown || next != EndpointUp
	}
	return from, next, false
}

// probed notes what a probe between deliveries found: reachable or not.
// A probe moves an endpoint between up and down (and out of unknown), so
// the endpoint-down alert follows the hospital system when no record
// comes; it never clears degraded, which a refused record set and only a
// delivered one clears, and it counts no delivery.
func (h *health) probed(err error) (from, to EndpointState, changed bool) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	from = h.state
	if from == "" {
		from = EndpointUnknown
	}
	next := EndpointUp
	if err != nil {
		next = EndpointDown
		h.lastErr, h.errAt = codeDelivery, now
	}
	if next == from || (from == EndpointDegraded && next == EndpointUp) {
		return from, from, false
	}
	h.state, h.since = next, now
	return from, next, from != EndpointUnknown || next != EndpointUp
}

// snapshot is the endpoint's health now.
func (h *health) snapshot(now time.Time) EndpointHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.state
	if st == "" {
		st = EndpointUnknown
	}
	if st == EndpointUp && !h.errAt.IsZero() && now.Sub(h.errAt) < degradedFor {
		st = EndpointDegraded
	}
	out := EndpointHealth{State: st, Since: h.since, LastError: h.lastErr, LastErrorAt: h.errAt, LastSuccess: h.okAt,
		InFlight: h.inflight.Load(), Outcomes: map[string]uint64{}, Buckets: append([]uint64(nil), h.buckets...), Count: h.count, Sum: h.sum}
	for k, v := range h.outcomes {
		out.Outcomes[k] = v
	}
	if out.Buckets == nil {
		out.Buckets = make([]uint64, len(DeliveryBuckets))
	}
	return out
}

// Endpoints returns each route's endpoint health, in route order.
func (r *Relay) Endpoints() []EndpointHealth {
	now := time.Now()
	out := make([]EndpointHealth, len(r.eps))
	for i, ep := range r.eps {
		out[i] = ep.health.snapshot(now)
		out[i].Route, out[i].Endpoint = ep.name, ep.url
	}
	return out
}

// ProbeEvery is how often WatchEndpoints probes each endpoint.
const ProbeEvery = 30 * time.Second

// WatchEndpoints probes each delivery endpoint every interval until ctx
// ends (ProbeEvery in the daemon): a down endpoint shows up again without
// waiting for a record, and an idle one that goes away shows down. An
// endpoint with deliveries in flight is not probed; they tell more.
func (r *Relay) WatchEndpoints(ctx context.Context, every time.Duration) {
	tick.Every(ctx, every, func(ctx context.Context) {
		for _, ep := range r.eps {
			ep.probeOnce(ctx)
		}
	})
}

// probeOnce connects to ep (and completes TLS) and notes the outcome.
func (ep *endpoint) probeOnce(ctx context.Context) {
	if ep.health.inflight.Load() > 0 {
		return
	}
	err := probe(ctx, ep.cfg)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		err = newDeliveryError(codeDelivery, ep.name, err)
	}
	from, to, changed := ep.health.probed(err)
	ep.logChange(from, to, changed, err)
}

// NoRoute is how many received records no route took.
func (r *Relay) NoRoute() uint64 { return r.stats.noRoute.Load() }
