package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/wardgate/wardgate/internal/names"
	"github.com/wardgate/wardgate/ledger/check"
	"github.com/wardgate/wardgate/ledger/proof"
	bolt "go.etcd.io/bbolt"
)

// Config opens a ledger for one box.
type Config struct {
	Box      string       // this box's name; every entry and checkpoint carries it
	StateDir string       // the journal lives here (ledger.db)
	Signer   proof.Signer // the record-signing key bound by attestation

	// A checkpoint is signed every CheckpointInterval (default 5s) or after
	// CheckpointEntries new entries (default 1024), whichever comes first.
	CheckpointInterval time.Duration
	CheckpointEntries  uint64

	// Chain anchors checkpoints. Nil keeps a journal-only ledger whose
	// receipts stay pending.
	Chain *Chain
	// AnchorInterval spaces anchoring transactions: at most one per
	// interval, each anchoring the newest checkpoint (0: as fast as the
	// chain confirms). With CheckpointEachCommit a checkpoint comes with
	// every commit, and anchoring each as it came cost a transaction and a
	// block every ~100 ms, whose disk writes stalled the journal's fsyncs.
	AnchorInterval time.Duration

	// MaxBatch bounds one group commit (default 8192 entries).
	MaxBatch int

	// CheckpointEachCommit signs a checkpoint over every group commit that
	// holds a KindSent entry and journals it in the same write, so a sent
	// record has a checkpoint to prove inclusion in the moment Append
	// returns, at no extra fsync. A relay that answers each record with a
	// receipt wants this. (Received entries' receipts are asked for later;
	// they wait for the next checkpoint.)
	CheckpointEachCommit bool

	Logger *slog.Logger

	// OnSync, if set, is told how long each write-ahead log fdatasync took
	// (the journal's commit latency floor; the daemon exports it as a
	// histogram). It runs under the journal's write lock: keep it cheap.
	OnSync func(time.Duration)

	// walFS and applyEvery are for the power-loss test (nil, 0: the OS
	// and applyEvery).
	walFS      walFS
	applyEvery time.Duration
}

// Appended is what Append returns once the entry is durable.
type Appended struct {
	Seq       uint64 // per-box sequence number
	LeafIndex uint64 // position in the Merkle log (equal to Seq)
	LeafHash  proof.Hash
	Entry     proof.Entry // the entry as signed and journaled
}

// Ledger is one box's signed, journaled, checkpointed and anchored log.
// All methods are safe for concurrent use.
type Ledger struct {
	cfg    Config
	log    *slog.Logger
	j      *journal
	tree   *tree
	pub    []byte
	in     chan *request
	commit chan *batch
	cpKick chan struct{}
	anKick chan struct{}

	mu          sync.Mutex
	cpMu        sync.Mutex               // serialises Checkpoint; taken before mu
	failed      error                    // sticky: a journal write failed
	digests     map[proof.Hash][]uint64  // digest -> seqs, rebuilt on open
	checkpoints []proof.Checkpoint       // ascending by size
	anchors     map[uint64]*proof.Anchor // checkpoint size -> anchor
	anchorSizes []uint64                 // ascending
	chainErr    error                    // last anchoring error, nil when connected
	nextSeq     uint64                   // owned by the sequencer goroutine
	lastCPSize  uint64                   // size at the last checkpoint
	closeOnce   sync.Once
	closeMu     sync.RWMutex
	closed      bool
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	seqDone     chan struct{}
	// latestCosigned is the newest checkpoint size with witness
	// cosignatures journaled (cosign.go).
	latestCosigned uint64
}

type request struct {
	e    proof.Entry
	done chan result
}

type result struct {
	a   Appended
	err error
}

type batch struct {
	reqs   []*request
	data   [][]byte
	leaves [][32]byte
	first  uint64
}

// DefaultCheckpointInterval is how often a checkpoint is signed when
// Config.CheckpointInterval is 0; the config's chain.checkpoint_interval default.
const DefaultCheckpointInterval = 5 * time.Second

// Open opens (or creates) the ledger in cfg.StateDir, replays the journal
// into the Merkle tree and starts the committer, the checkpointer and, with a
// chain, the anchorer.
func Open(ctx context.Context, cfg Config) (*Ledger, error) {
	if err := names.CheckBox("config box", cfg.Box); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if cfg.Signer == nil {
		return nil, errors.New("ledger: config signer is nil; pass the box's record-signing key")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("ledger: config state dir is empty")
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.CheckpointEntries == 0 {
		cfg.CheckpointEntries = 1024
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 8192
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.walFS == nil {
		cfg.walFS = osFS{}
	}
	if cfg.applyEvery <= 0 {
		cfg.applyEvery = applyEvery
	}
	j, err := openJournalFS(cfg.StateDir, cfg.walFS, cfg.applyEvery, cfg.Logger.With("component", "ledger-journal", "box", cfg.Box))
	if err != nil {
		return nil, err
	}
	j.onSync = cfg.OnSync // before any append: the committer starts below
	l := &Ledger{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "ledger", "box", cfg.Box),
		j:       j,
		tree:    newTree(),
		pub:     cfg.Signer.Public(),
		in:      make(chan *request, 4*cfg.MaxBatch),
		commit:  make(chan *batch, 1),
		cpKick:  make(chan struct{}, 1),
		anKick:  make(chan struct{}, 1),
		digests: make(map[proof.Hash][]uint64),
		anchors: make(map[uint64]*proof.Anchor),
		seqDone: make(chan struct{}),
	}
	if err := l.load(); err != nil {
		j.close()
		return nil, err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.wg.Add(3)
	go l.sequencer()
	go l.committer()
	go l.checkpointer(bg)
	if cfg.Chain != nil {
		l.wg.Add(1)
		go l.anchorer(bg)
	}
	l.log.Info("ledger open", "size", l.tree.size(), "checkpoints", len(l.checkpoints), "anchored", len(l.anchorSizes))
	return l, nil
}

// load binds the journal to this box and key, and replays it.
func (l *Ledger) load() error {
	return l.j.db.Update(func(tx *bolt.Tx) error {
		if err := l.bind(tx.Bucket(bucketMeta)); err != nil {
			return err
		}
		if err := l.loadEntries(tx.Bucket(bucketEntries)); err != nil {
			return err
		}
		if err := l.loadCheckpoints(tx.Bucket(bucketCheckpoints)); err != nil {
			return err
		}
		if err := l.loadAnchors(tx.Bucket(bucketAnchors)); err != nil {
			return err
		}
		l.loadCosigned(tx.Bucket(bucketCosignatures))
		return l.checkRoots()
	})
}

// checkRoots refuses a journal whose entries do not reproduce every stored
// checkpoint's and anchor's root: appending to it would fork the log
// against roots already signed or anchored.
func (l *Ledger) checkRoots() error {
	roots := make([]check.Root, 0, len(l.checkpoints)+len(l.anchorSizes))
	for _, c := range l.checkpoints {
		roots = append(roots, check.Root{What: "checkpoint", Size: c.Size, Root: c.Root})
	}
	for _, s := range l.anchorSizes {
		roots = append(roots, check.Root{What: "anchor", Size: s, Root: l.anchors[s].Root})
	}
	if err := check.Roots(l.tree.size(), l.tree.root, roots); err != nil {
		return fmt.Errorf("ledger: refusing to open %s: %w; the files are kept: run `wardgate ledger check --state-dir %s` and restore the state dir from a backup", l.cfg.StateDir, err, l.cfg.StateDir)
	}
	return nil
}

// bind refuses a journal of another box or record key, and marks a new one
// as this box's.
func (l *Ledger) bind(meta *bolt.Bucket) error {
	if box := meta.Get(metaBox); box != nil && string(box) != l.cfg.Box {
		return fmt.Errorf("ledger: state dir %s holds the log of box %q, not %q", l.cfg.StateDir, box, l.cfg.Box)
	}
	if key := meta.Get(metaKey); key != nil && !bytes.Equal(key, l.pub) {
		// A new record key needs a new log: old checkpoints would not verify.
		return fmt.Errorf("ledger: state dir %s was signed with a different record key; use a fresh state dir for a new key", l.cfg.StateDir)
	}
	if err := meta.Put(metaBox, []byte(l.cfg.Box)); err != nil {
		return err
	}
	return meta.Put(metaKey, l.pub)
}

// loadEntries replays the journaled entries into the tree and the digest
// index, refusing a gap or a truncated entry.
func (l *Ledger) loadEntries(entries *bolt.Bucket) error {
	var leaves [][32]byte
	digOff := len(proof.EntryDomain) + 1
	err := entries.ForEach(func(k, v []byte) error {
		seq := binary.BigEndian.Uint64(k)
		if seq != uint64(len(leaves)) {
			return fmt.Errorf("ledger: journal has a gap at seq %d (next expected %d)", seq, len(leaves))
		}
		if len(v) < digOff+32 {
			return fmt.Errorf("%w: journal entry %d is %d bytes", proof.ErrBadEntry, seq, len(v))
		}
		var d proof.Hash
		copy(d[:], v[digOff:])
		l.digests[d] = append(l.digests[d], seq)
		leaves = append(leaves, proof.HashLeaf(v))
		return nil
	})
	if err != nil {
		return err
	}
	l.tree.append(leaves)
	l.nextSeq = uint64(len(leaves))
	return nil
}

// loadCheckpoints reads the journaled checkpoints, in order.
func (l *Ledger) loadCheckpoints(cps *bolt.Bucket) error {
	err := cps.ForEach(func(k, v []byte) error {
		var c proof.Checkpoint
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("ledger: journal checkpoint %x: %w", k, err)
		}
		l.checkpoints = append(l.checkpoints, c)
		return nil
	})
	if err != nil {
		return err
	}
	if n := len(l.checkpoints); n > 0 {
		l.lastCPSize = l.checkpoints[n-1].Size
	}
	return nil
}

// loadAnchors reads the journaled anchors.
func (l *Ledger) loadAnchors(anchors *bolt.Bucket) error {
	return anchors.ForEach(func(k, v []byte) error {
		a := new(proof.Anchor)
		if err := json.Unmarshal(v, a); err != nil {
			return fmt.Errorf("ledger: journal anchor %x: %w", k, err)
		}
		l.anchors[a.Size] = a
		l.anchorSizes = append(l.anchorSizes, a.Size)
		return nil
	})
}

// Append signs the entry, journals it and adds it to the Merkle log. It
// returns only after the entry is fsync'd. Concurrent appends share one
// commit, so throughput grows with the number of callers.
func (l *Ledger) Append(ctx context.Context, e proof.Entry) (Appended, error) {
	if err := e.Check(); err != nil {
		return Appended{}, err
	}
	r := &request{e: e, done: make(chan result, 1)}
	// The read lock keeps Close from closing l.in under a sender; the
	// sequencer keeps draining l.in, so holding it never blocks for long.
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return Appended{}, ErrClosed
	}
	select {
	case l.in <- r:
	case <-ctx.Done():
		l.closeMu.RUnlock()
		return Appended{}, ctx.Err()
	}
	l.closeMu.RUnlock()
	select {
	case res := <-r.done:
		return res.a, res.err
	case <-ctx.Done():
		// The entry may still become durable; it is simply not acknowledged.
		return Appended{}, ctx.Err()
	}
}

// ErrClosed is returned by calls on a closed ledger.
var ErrClosed = errors.New("ledger: closed")

// ErrJournalFailed is returned after a journal write failed; the ledger must
// be reopened (after fixing the disk) before it accepts entries again.
var ErrJournalFailed = errors.New("ledger: journal write failed")

// sequencer assigns sequence numbers, salts and signatures to a batch, in
// parallel, while the committer fsyncs the previous batch.
func (l *Ledger) sequencer() {
	defer l.wg.Done()
	defer close(l.commit)
	for {
		reqs, ok := l.nextBatch()
		if !ok {
			close(l.seqDone)
			return
		}
		l.mu.Lock()
		failed := l.failed
		l.mu.Unlock()
		if failed != nil {
			for _, r := range reqs {
				r.done <- result{err: failed}
			}
			continue
		}
		b := &batch{reqs: reqs, first: l.nextSeq, data: make([][]byte, len(reqs)), leaves: make([][32]byte, len(reqs))}
		if err := l.stamp(b); err != nil {
			l.failBatch(reqs, err)
			continue
		}
		if err := l.sign(b); err != nil {
			// Nothing of this batch reached the committer, so its sequence
			// numbers are simply reused by the next batch.
			l.failBatch(reqs, err)
			continue
		}
		l.nextSeq += uint64(len(reqs))
		l.commit <- b
	}
}

// nextBatch waits for a request and takes those queued behind it, up to
// MaxBatch. It reports false once the input is closed and drained.
func (l *Ledger) nextBatch() ([]*request, bool) {
	first, ok := <-l.in
	if !ok {
		return nil, false
	}
	reqs := []*request{first}
	for len(reqs) < l.cfg.MaxBatch {
		select {
		case r, ok := <-l.in:
			if !ok {
				return reqs, true
			}
			reqs = append(reqs, r)
		default:
			return reqs, true
		}
	}
	return reqs, true
}

// stamp gives each entry of b its log, sequence number, time (as encoded)
// and salt.
func (l *Ledger) stamp(b *batch) error {
	salts := make([]byte, proof.SaltSize*len(b.reqs))
	if _, err := rand.Read(salts); err != nil {
		return fmt.Errorf("ledger: reading salt: %w", err)
	}
	now := time.Now().UTC()
	for i, r := range b.reqs {
		r.e.Log = l.cfg.Box
		r.e.Seq = b.first + uint64(i)
		if r.e.Time.IsZero() {
			r.e.Time = now
		}
		r.e.Time = time.Unix(0, r.e.Time.UnixNano()).UTC() // as encoded
		copy(r.e.Salt[:], salts[i*proof.SaltSize:])
	}
	return nil
}

// sign signs b's entries and fills in their encodings and leaf hashes: one
// signature per batch of MaxBatchSign entries, the batches signed in
// parallel.
func (l *Ledger) sign(b *batch) error {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	per := max(proof.MaxBatchSign, (len(b.reqs)+workers-1)/workers)
	per = (per + proof.MaxBatchSign - 1) / proof.MaxBatchSign * proof.MaxBatchSign
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(b.reqs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			errs[w] = l.signRange(b, lo, hi)
		}(w, lo, hi)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// signRange signs the entries b.reqs[lo:hi].
func (l *Ledger) signRange(b *batch, lo, hi int) error {
	es := make([]*proof.Entry, hi-lo)
	for i := lo; i < hi; i++ {
		es[i-lo] = &b.reqs[i].e
	}
	data, err := proof.SignEntries(l.cfg.Signer, es)
	if err != nil {
		return err
	}
	for i := lo; i < hi; i++ {
		b.data[i] = data[i-lo]
		b.leaves[i] = proof.HashLeaf(b.data[i])
	}
	return nil
}

func (l *Ledger) failBatch(reqs []*request, err error) {
	l.log.Error("append batch failed", "entries", len(reqs), "err", err)
	for _, r := range reqs {
		r.done <- result{err: err}
	}
}

// committer makes each batch durable in one WAL write, then publishes it
// to the tree and acknowledges it.
func (l *Ledger) committer() {
	defer l.wg.Done()
	for b := range l.commit {
		l.mu.Lock()
		failed := l.failed
		l.mu.Unlock()
		var cp *proof.Checkpoint
		var cpJSON []byte
		if failed == nil && l.cfg.CheckpointEachCommit && hasSent(b) {
			var err error
			if cp, cpJSON, err = l.commitCheckpoint(b); err != nil {
				l.log.Error("checkpoint with commit failed; committing without it", "err", err)
				cp, cpJSON = nil, nil
			}
		}
		if failed == nil {
			if err := l.j.appendEntries(b.first, b.data, cpJSON); err != nil {
				failed = fmt.Errorf("%w: %w", ErrJournalFailed, err)
				l.mu.Lock()
				l.failed = failed
				l.mu.Unlock()
				l.log.Error("journal write failed; refusing further appends", "err", err)
			}
		}
		if failed != nil {
			for _, r := range b.reqs {
				r.done <- result{err: failed}
			}
			continue
		}
		l.tree.append(b.leaves)
		l.mu.Lock()
		for i, r := range b.reqs {
			l.digests[r.e.Digest] = append(l.digests[r.e.Digest], b.first+uint64(i))
		}
		if cp != nil {
			l.addCheckpoint(*cp)
		}
		due := b.first+uint64(len(b.reqs))-l.lastCPSize >= l.cfg.CheckpointEntries
		l.mu.Unlock()
		if cp != nil {
			kick(l.anKick)
		}
		for i, r := range b.reqs {
			r.done <- result{a: Appended{Seq: r.e.Seq, LeafIndex: r.e.Seq, LeafHash: b.leaves[i], Entry: r.e}}
		}
		if due {
			kick(l.cpKick)
		}
	}
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// checkpointer signs a checkpoint every interval or after N entries.
func (l *Ledger) checkpointer(ctx context.Context) {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.cpKick:
		}
		// A checkpoint cut short by Close is not a failure: the next
		// start checkpoints what the journal holds.
		if _, err := l.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			l.log.Error("checkpoint failed", "err", err)
		}
	}
}

// Checkpoint signs and journals a checkpoint of the current log now (if the
// log grew since the last one) and returns the latest checkpoint.
func (l *Ledger) Checkpoint(ctx context.Context) (proof.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return proof.Checkpoint{}, err
	}
	// cpMu orders checkpoints; l.mu is held only to read the tree and to
	// publish, not through signing and the fsync, so appends and receipts
	// go on while a checkpoint is written.
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	l.mu.Lock()
	size := l.tree.size()
	if n := len(l.checkpoints); n > 0 && l.checkpoints[n-1].Size >= size {
		c := l.checkpoints[n-1]
		l.mu.Unlock()
		return c, nil
	}
	if size == 0 {
		l.mu.Unlock()
		return proof.Checkpoint{}, fmt.Errorf("%w: the log is empty, nothing to checkpoint", ErrNotFound)
	}
	root, err := l.tree.root(size)
	l.mu.Unlock()
	if err != nil {
		return proof.Checkpoint{}, err
	}
	c := proof.Checkpoint{Log: l.cfg.Box, Size: size, Root: root, Time: time.Unix(0, time.Now().UnixNano()).UTC()}
	if err := c.Sign(l.cfg.Signer); err != nil {
		return proof.Checkpoint{}, err
	}
	if err := l.j.putJSON(bucketCheckpoints, u64key(size), &c); err != nil {
		return proof.Checkpoint{}, fmt.Errorf("ledger: journaling checkpoint at size %d: %w", size, err)
	}
	l.mu.Lock()
	l.addCheckpoint(c)
	l.mu.Unlock()
	l.log.Debug("checkpoint", "size", size, "root", root)
	kick(l.anKick)
	return c, nil
}

func hasSent(b *batch) bool {
	for _, r := range b.reqs {
		if r.e.Kind == proof.KindSent {
			return true
		}
	}
	return false
}

// commitCheckpoint signs the checkpoint the log will have once b is
// appended, for the committer to journal with b.
func (l *Ledger) commitCheckpoint(b *batch) (*proof.Checkpoint, []byte, error) {
	root, err := l.tree.rootAfter(b.leaves)
	if err != nil {
		return nil, nil, err
	}
	c := &proof.Checkpoint{Log: l.cfg.Box, Size: b.first + uint64(len(b.leaves)), Root: root, Time: time.Unix(0, time.Now().UnixNano()).UTC()}
	if err := c.Sign(l.cfg.Signer); err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, nil, err
	}
	return c, raw, nil
}

// addCheckpoint publishes a journaled checkpoint; l.mu is held. The list
// stays ascending: a checkpoint no larger than the newest (a concurrent
// Checkpoint call lost the race) is journaled but not listed until reopen.
func (l *Ledger) addCheckpoint(c proof.Checkpoint) {
	if n := len(l.checkpoints); n > 0 && l.checkpoints[n-1].Size >= c.Size {
		return
	}
	l.checkpoints = append(l.checkpoints, c)
	l.lastCPSize = c.Size
}

// CheckpointSize is the size of the newest checkpoint (0 if none).
func (l *Ledger) CheckpointSize() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.checkpoints); n > 0 {
		return l.checkpoints[n-1].Size
	}
	return 0
}

// Status is a snapshot for `wardgate status` and metrics.
type Status struct {
	Box            string            `json:"box"`
	Size           uint64            `json:"size"`
	LastCheckpoint *proof.Checkpoint `json:"last_checkpoint,omitempty"`
	LastAnchor     *proof.Anchor     `json:"last_anchor,omitempty"`
	// Backlog is the number of entries not yet covered by an anchored checkpoint.
	Backlog        uint64 `json:"backlog"`
	ChainEnabled   bool   `json:"chain_enabled"`
	ChainConnected bool   `json:"chain_connected"`
	// ChainStalled is set while the last anchor waited on a chain that
	// sealed no block (ErrChainStalled).
	ChainStalled bool   `json:"chain_stalled,omitempty"`
	ChainError   string `json:"chain_error,omitempty"`
	JournalError string `json:"journal_error,omitempty"`
	// Endpoints is the health of each chain rpc endpoint (rpc mode).
	Endpoints []EndpointHealth `json:"endpoints,omitempty"`
}

// Status reports the log's size, checkpoints and anchoring state.
func (l *Ledger) Status(ctx context.Context) Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Status{Box: l.cfg.Box, Size: l.tree.size(), ChainEnabled: l.cfg.Chain != nil, Endpoints: l.cfg.Chain.Endpoints()}
	if n := len(l.checkpoints); n > 0 {
		c := l.checkpoints[n-1]
		s.LastCheckpoint = &c
	}
	var anchored uint64
	if n := len(l.anchorSizes); n > 0 {
		a := *l.anchors[l.anchorSizes[n-1]]
		s.LastAnchor = &a
		anchored = a.Size
	}
	s.Backlog = s.Size - anchored
	s.ChainConnected = s.ChainEnabled && l.chainErr == nil
	s.ChainStalled = errors.Is(l.chainErr, ErrChainStalled)
	if l.chainErr != nil {
		s.ChainError = l.chainErr.Error()
	}
	if l.failed != nil {
		s.JournalError = l.failed.Error()
	} else if err := l.j.err(); err != nil {
		s.JournalError = err.Error()
	}
	return s
}

// Entry returns the journaled entry with sequence number seq.
func (l *Ledger) Entry(ctx context.Context, seq uint64) (*proof.Entry, error) {
	return l.j.entry(seq)
}

// Lookup returns the sequence numbers of entries with the given record digest.
func (l *Ledger) Lookup(digest [32]byte) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.digests[digest]...)
}

// RecordKey is the public key that signs this log.
func (l *Ledger) RecordKey() []byte { return append([]byte(nil), l.pub...) }

// Consistency returns a consistency proof between two checkpoint sizes.
func (l *Ledger) Consistency(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	return l.tree.consistency(size1, size2)
}

// checkpointAt returns the stored checkpoint of exactly size.
func (l *Ledger) checkpointAt(size uint64) (proof.Checkpoint, bool) {
	i := sort.Search(len(l.checkpoints), func(i int) bool { return l.checkpoints[i].Size >= size })
	if i < len(l.checkpoints) && l.checkpoints[i].Size == size {
		return l.checkpoints[i], true
	}
	return proof.Checkpoint{}, false
}

// Close stops accepting entries, waits for in-flight ones to be journaled,
// stops the background work and closes the journal. It does not close the
// chain, which the caller owns.
func (l *Ledger) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.closeMu.Lock()
		l.closed = true
		close(l.in)
		l.closeMu.Unlock()
		<-l.seqDone
		l.cancel()
		l.wg.Wait()
		err = l.j.close()
	})
	return err
}
