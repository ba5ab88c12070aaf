package witness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/internal/tick"
	"github.com/wardgate/wardgate/ledger/proof"
)

// Log is the slice of the ledger the pusher needs.
type Log interface {
	Checkpoint(ctx context.Context) (proof.Checkpoint, error)
	Consistency(ctx context.Context, size1, size2 uint64) ([][]byte, error)
	// AddCosignatures keeps checked cosignature lines for the checkpoint
	// at size, for receipts (the ledger journals them).
	AddCosignatures(size uint64, lines []byte) error
}

// PusherConfig configures a Pusher.
type PusherConfig struct {
	Log    Log
	Client *Client
	// Peers lists the peers whose witnesses cosign this box's log.
	Peers func() []string
	// Verifier is peer's cosignature verifier (from its attested record
	// key), or false if the peer is not admitted now.
	Verifier func(peer string) (note.Verifier, bool)
	Logger   *slog.Logger
}

// Pusher has this box's newest checkpoint cosigned by its peers and hands
// the cosignatures to the log, which journals them for receipts.
type Pusher struct {
	cfg    PusherConfig
	mu     sync.Mutex
	known  map[string]uint64 // peer -> size its witness last cosigned
	counts counts
}

// NewPusher makes a pusher; call Push or Run.
func NewPusher(cfg PusherConfig) *Pusher {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pusher{cfg: cfg, known: map[string]uint64{}}
}

// Run pushes every interval until ctx ends.
func (p *Pusher) Run(ctx context.Context, interval time.Duration) {
	tick.Every(ctx, interval, func(ctx context.Context) {
		if err := p.Push(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Warn("witnessing incomplete", "err", err)
		}
	})
}

// Push has the newest checkpoint cosigned by each peer and returns the
// peers' refusals and failures joined.
func (p *Pusher) Push(ctx context.Context) error {
	cp, err := p.cfg.Log.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if cp.Note == "" {
		return fmt.Errorf("witness: checkpoint at size %d is version 1 (no signed note) and cannot be witnessed", cp.Size)
	}
	var errs []error
	for _, peer := range p.cfg.Peers() {
		if err := p.pushTo(ctx, peer, &cp); err != nil {
			p.failed(peer, cp.Size, err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// failed counts a push to peer that did not end in a cosignature. A
// contradiction is logged at ERROR here, once per push, with a code the
// SIEM can match; other failures are the caller's to log.
func (p *Pusher) failed(peer string, size uint64, err error) {
	if !errors.Is(err, ErrInconsistent) {
		p.counts.add(ResultFailed)
		return
	}
	p.counts.add(ResultContradicted)
	p.cfg.Logger.Error("a peer's witness says this box's log contradicts a checkpoint it cosigned; the log may have been forked or rolled back",
		"code", "witness_contradicts_own_log", "peer", peer, "size", size)
}

// pushTo sends cp to one peer, retrying once from the size a 409 names.
func (p *Pusher) pushTo(ctx context.Context, peer string, cp *proof.Checkpoint) error {
	v, ok := p.cfg.Verifier(peer)
	if !ok {
		return nil // not admitted: its witness is not one to trust now
	}
	p.mu.Lock()
	old := p.known[peer]
	p.mu.Unlock()
	if old == cp.Size {
		return nil // cosigned already
	}
	for range 2 {
		r, err := p.request(ctx, old, cp)
		if err != nil {
			return err
		}
		lines, err := p.cfg.Client.AddCheckpoint(ctx, peer, r)
		var conflict *ConflictError
		if errors.As(err, &conflict) && conflict.Size <= cp.Size && conflict.Size != old {
			old = conflict.Size
			continue
		}
		if err != nil {
			return err
		}
		return p.keep(peer, v, cp, lines)
	}
	return fmt.Errorf("witness: %q keeps answering 409", peer)
}

// request builds the add-checkpoint request from old to cp.
func (p *Pusher) request(ctx context.Context, old uint64, cp *proof.Checkpoint) (*Request, error) {
	r := &Request{OldSize: old, Checkpoint: []byte(cp.Note)}
	if old == 0 || old >= cp.Size {
		return r, nil
	}
	hs, err := p.cfg.Log.Consistency(ctx, old, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("witness: consistency %d -> %d: %w", old, cp.Size, err)
	}
	for _, h := range hs {
		r.Proof = append(r.Proof, [32]byte(h))
	}
	return r, nil
}

// keep checks the peer's cosignature with its attested key and has the
// log keep it.
func (p *Pusher) keep(peer string, v note.Verifier, cp *proof.Checkpoint, lines []byte) error {
	c := *cp
	if err := c.AddCosignatures(lines); err != nil {
		return fmt.Errorf("witness: %q: %w", peer, err)
	}
	names, err := c.Cosigners([]note.Verifier{v})
	if err != nil {
		return fmt.Errorf("witness: %q: %w", peer, err)
	}
	if len(names) != 1 {
		return fmt.Errorf("%w: %q returned no cosignature by its attested key", ErrBadSignature, peer)
	}
	if err := p.cfg.Log.AddCosignatures(cp.Size, lines); err != nil {
		return fmt.Errorf("witness: keeping %q's cosignature: %w", peer, err)
	}
	p.counts.add(ResultCosigned)
	p.mu.Lock()
	p.known[peer] = cp.Size
	p.mu.Unlock()
	return nil
}
