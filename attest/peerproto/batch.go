package peerproto

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wardgate/wardgate/attest"
)

// Batched quotes (protocol v2). A verifier that speaks v2 says so in the
// Wardgate-Attest-Accept header of its evidence request; a box whose
// handler batches (HandlerConfig.BatchWindow > 0) then gathers every such
// request arriving within the window and answers them all from one quote,
// each with the inclusion proof of its own nonce. A request without the
// header, or a box that does not batch, gets v1 evidence: one quote per
// nonce. A verifier refuses v1 from a peer that has answered it in v2
// since their last first contact (ErrDowngrade), so the unbatched form is
// refused only once both sides speak v2.

const (
	headerAccept      = "Wardgate-Attest-Accept"
	headerRuntimeFrom = "Wardgate-Runtime-From"
)

// ErrDowngrade is a v1 answer from a peer that has spoken v2.
var ErrDowngrade = errors.New("peer answered unbatched v1 evidence after speaking v2")

// ScaleBox is a Box that can also batch quotes and send its runtime list.
type ScaleBox interface {
	Box
	// EvidenceSince is Evidence with the runtime list from runtimeFrom.
	EvidenceSince(ctx context.Context, nonce []byte, runtimeFrom uint64) (*attest.Evidence, error)
	// BatchEvidence answers all of one window's requests from one quote,
	// in their order.
	BatchEvidence(ctx context.Context, reqs []attest.BatchRequest) ([]*attest.Evidence, error)
}

// HandlerConfig configures NewHandlerConfig.
type HandlerConfig struct {
	Budget Budget
	// BatchWindow is how long v2 challenges are gathered into one quote;
	// 0 turns batching off. It takes effect only for a ScaleBox.
	BatchWindow time.Duration
}

// batcher gathers one window's requests and quotes them together.
type batcher struct {
	box    ScaleBox
	window time.Duration

	mu  sync.Mutex
	cur *batch
}

type batch struct {
	reqs []attest.BatchRequest
	done chan struct{}
	evs  []*attest.Evidence
	err  error
}

// evidence adds the request to the open window (opening one if none is)
// and waits for the window's quote.
func (b *batcher) evidence(ctx context.Context, req attest.BatchRequest) (*attest.Evidence, error) {
	b.mu.Lock()
	if b.cur == nil || len(b.cur.reqs) >= attest.MaxBatchLeaves {
		b.cur = &batch{done: make(chan struct{})}
		go b.run(b.cur)
	}
	bt, i := b.cur, len(b.cur.reqs)
	bt.reqs = append(bt.reqs, attest.BatchRequest{Nonce: slices.Clone(req.Nonce), RuntimeFrom: req.RuntimeFrom})
	b.mu.Unlock()
	select {
	case <-bt.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if bt.err != nil {
		return nil, bt.err
	}
	return bt.evs[i], nil
}

// run closes the window after its time and quotes it. The quote outlives
// any one request: the others in the window still need it.
func (b *batcher) run(bt *batch) {
	time.Sleep(b.window)
	b.mu.Lock()
	if b.cur == bt {
		b.cur = nil
	}
	reqs := bt.reqs
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	bt.evs, bt.err = b.box.BatchEvidence(ctx, reqs)
	if bt.err == nil && len(bt.evs) != len(reqs) {
		bt.err = fmt.Errorf("peerproto: batch of %d requests got %d answers", len(reqs), len(bt.evs))
	}
	close(bt.done)
}

// runtimeFrom reads the runtime position header (absent means 0).
func runtimeFrom(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("header %s: %q is not a count of entries", headerRuntimeFrom, s)
	}
	return n, nil
}
