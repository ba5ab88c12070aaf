package witness

import (
	"errors"
	"sync"
)

// Outcomes of an add-checkpoint request, as the witness counts them.
const (
	OutcomeCosigned     = "cosigned"
	OutcomeConflict     = "conflict" // 409: the client's old size is stale
	OutcomeFork         = ReasonFork // 422: same size, other root
	OutcomeInconsistent = ReasonInconsistent
	OutcomeBadSignature = "bad_signature" // 403
	OutcomeUnknownLog   = "unknown_log"   // 404
	OutcomeMalformed    = "malformed"     // 400
	OutcomeError        = "error"
)

// Outcomes lists every Outcome constant, so that metrics can export each
// from zero (an alert on rate() needs the series before the first event).
var Outcomes = []string{OutcomeCosigned, OutcomeConflict, OutcomeFork, OutcomeInconsistent, OutcomeBadSignature, OutcomeUnknownLog, OutcomeMalformed, OutcomeError}

// Pusher results, as Pusher.Stats counts them.
const (
	ResultCosigned = "cosigned"
	// ResultContradicted: the peer's witness holds a cosigned checkpoint
	// of this log that the offered one contradicts (422). Either this
	// box's log was forked or rolled back, or the peer is lying: a
	// security matter, never a transient failure.
	ResultContradicted = "contradicted"
	ResultFailed       = "failed" // any other refusal, or unreachable
)

// Results lists every Pusher result, for metrics.
var Results = []string{ResultCosigned, ResultContradicted, ResultFailed}

// counts is a small set of named counters.
type counts struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counts) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]uint64{}
	}
	c.m[k]++
}

func (c *counts) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// outcome names what an add-checkpoint error means.
func outcome(err error, reason string) string {
	var conflict *ConflictError
	switch {
	case err == nil:
		return OutcomeCosigned
	case errors.As(err, &conflict):
		return OutcomeConflict
	case errors.Is(err, ErrInconsistent):
		return reason
	case errors.Is(err, ErrBadSignature):
		return OutcomeBadSignature
	case errors.Is(err, ErrUnknownLog):
		return OutcomeUnknownLog
	case errors.Is(err, ErrMalformed):
		return OutcomeMalformed
	}
	return OutcomeError
}

// Stats counts add-checkpoint requests by outcome (the Outcome constants).
func (w *Witness) Stats() map[string]uint64 { return w.counts.snapshot() }

// Stats counts this box's own checkpoints offered to peers: "cosigned" or
// "failed" (refused or unreachable).
func (p *Pusher) Stats() map[string]uint64 { return p.counts.snapshot() }
