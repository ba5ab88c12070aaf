package witness

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	tlog "github.com/transparency-dev/formats/log"
	merkleproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/wardgate/wardgate/internal/atomicfile"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/proof"
)

var (
	// ErrUnknownLog: the checkpoint's origin is not the log of a peer this
	// witness knows (not admitted, or not a peer): HTTP 404.
	ErrUnknownLog = errors.New("witness: unknown log origin")
	// ErrBadSignature: the checkpoint is not signed by the log's record
	// key: HTTP 403.
	ErrBadSignature = errors.New("witness: checkpoint signature does not verify")
	// ErrInconsistent: the checkpoint is not consistent with the one this
	// witness last cosigned (a fork, a split view, or a bad proof): HTTP
	// 422. The evidence is journaled.
	ErrInconsistent = errors.New("witness: checkpoint is inconsistent with the cosigned one")
)

// ConflictError: the client's old size is not the size the witness last
// cosigned (HTTP 409 with that size); a client retries from Size.
type ConflictError struct{ Size uint64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness: old size does not match; the witness last cosigned size %d", e.Size)
}

// Logs says which logs a witness witnesses: the box and record key of
// origin, or false. The gateway answers from its admitted peers' verdicts.
type Logs interface {
	LogKey(origin string) (box string, key ed25519.PublicKey, ok bool)
}

// Evidence is what a witness keeps when it refuses a checkpoint that
// contradicts one it cosigned: both checkpoints, each signed by the log.
type Evidence struct {
	Log      string    `json:"log"`
	Origin   string    `json:"origin"`
	Reason   string    `json:"reason"` // ReasonFork or ReasonInconsistent
	Time     time.Time `json:"time"`
	Cosigned string    `json:"cosigned"` // the note this witness cosigned
	Offered  string    `json:"offered"`  // the note it refused
}

const (
	// ReasonFork: two checkpoints of the same size with different roots,
	// both signed by the log: proof on its own that the box forked.
	ReasonFork = "fork"
	// ReasonInconsistent: the consistency proof from the cosigned
	// checkpoint to the offered one does not verify.
	ReasonInconsistent = "inconsistent"
)

// Marshal is the evidence as journaled: its SHA-256 is the digest of the
// ledger entry that records it.
func (e *Evidence) Marshal() []byte {
	b, _ := json.MarshalIndent(e, "", "  ") // strings and a time only
	return b
}

// Config configures a Witness.
type Config struct {
	Box       string       // this box; its witness key name is proof.WitnessName(Box)
	Signer    proof.Signer // the record key (docs/decisions.md)
	Logs      Logs
	StatePath string // the latest cosigned checkpoint per log, JSON, written atomically
	// Evidence journals a refused contradiction; a failure is logged, and
	// the checkpoint is refused all the same.
	Evidence func(ctx context.Context, e *Evidence) error
	Logger   *slog.Logger
	Now      func() time.Time
}

// Witness cosigns its peers' checkpoints.
type Witness struct {
	cfg      Config
	cosigner note.Signer
	mu       sync.Mutex // serialises check, state write and cosign
	state    map[string]logState
	// evidenced is the cosigned size each log was last caught contradicting,
	// per reason: one evidence file and journal entry per contradicted
	// state, so a
	// hostile peer signing fork after fork cannot fill the disk or the log.
	evidenced map[string]uint64
	counts    counts
}

// logState is the latest checkpoint the witness cosigned for one log,
// keyed by origin and record key: a box with a new record key starts a new
// log (as the ledger does).
type logState struct {
	Size uint64     `json:"size"`
	Root proof.Hash `json:"root"`
	Note string     `json:"note"`
}

// maxState bounds the state file read at start.
const maxState = 64 << 20

// New opens the witness and its state file.
func New(cfg Config) (*Witness, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cs, err := proof.CosignatureSigner(cfg.Signer, cfg.Box, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	w := &Witness{cfg: cfg, cosigner: cs, state: map[string]logState{}, evidenced: map[string]uint64{}}
	if err := w.load(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Witness) load() error {
	f, err := os.Open(w.cfg.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("witness: state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxState+1))
	if err != nil {
		return fmt.Errorf("witness: state %s: %w", w.cfg.StatePath, err)
	}
	if len(b) > maxState {
		return fmt.Errorf("witness: state %s is over %d bytes", w.cfg.StatePath, maxState)
	}
	if err := json.Unmarshal(b, &w.state); err != nil {
		return fmt.Errorf("witness: state %s: %w (restore it from a backup; deleting it lets a peer roll back once)", w.cfg.StatePath, err)
	}
	return nil
}

// save writes the state before a cosignature leaves: a witness that
// crashes after cosigning still remembers what it cosigned.
func (w *Witness) save() error {
	b, err := json.Marshal(w.state)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(w.cfg.StatePath, b, 0o600); err != nil {
		return fmt.Errorf("witness: saving state: %w", err)
	}
	return nil
}

func stateKey(origin string, key ed25519.PublicKey) string {
	return origin + " " + hex.EncodeToString(key)
}

// Latest is the size and root this witness last cosigned for origin under key.
func (w *Witness) Latest(origin string, key ed25519.PublicKey) (uint64, proof.Hash) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state[stateKey(origin, key)]
	return st.Size, st.Root
}

// opened is a checkpoint whose log signature verified.
type opened struct {
	box, origin string
	key         ed25519.PublicKey
	cp          *tlog.Checkpoint
	text        string
}

// open identifies the log of r's checkpoint and verifies its signature.
func (w *Witness) open(r *Request) (*opened, error) {
	origin, _, _ := bytes.Cut(r.Checkpoint, []byte("\n"))
	box, key, ok := w.cfg.Logs.LogKey(string(origin))
	if !ok {
		return nil, fmt.Errorf("%w: %.80q is not the log of an admitted peer", ErrUnknownLog, origin)
	}
	v, err := proof.LogVerifier(box, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	cp, rest, n, err := tlog.ParseCheckpoint(r.Checkpoint, string(origin), v)
	if err != nil {
		return nil, fmt.Errorf("%w: log %q: %w", ErrBadSignature, box, err)
	}
	if len(cp.Hash) != sha256.Size || len(rest) != 0 {
		return nil, fmt.Errorf("%w: checkpoint of %q must be origin, size and a 32-byte root, no extension lines", ErrMalformed, box)
	}
	if r.OldSize > cp.Size {
		return nil, fmt.Errorf("%w: old size %d is larger than the checkpoint size %d", ErrMalformed, r.OldSize, cp.Size)
	}
	return &opened{box: box, origin: string(origin), key: key, cp: cp, text: n.Text}, nil
}

// AddCheckpoint handles one add-checkpoint request and returns the
// cosignature line(s) to append to the checkpoint note.
func (w *Witness) AddCheckpoint(ctx context.Context, r *Request) (lines []byte, err error) {
	reason := ReasonInconsistent
	defer func() { w.counts.add(outcome(err, reason)) }()
	o, err := w.open(r)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	k := stateKey(o.origin, o.key)
	st := w.state[k]
	if r.OldSize != st.Size {
		return nil, &ConflictError{Size: st.Size}
	}
	reason = contradiction(st.Size, o.cp.Size)
	if err := w.checkConsistent(ctx, k, o, st, r); err != nil {
		return nil, err
	}
	w.state[k] = logState{Size: o.cp.Size, Root: proof.Hash(o.cp.Hash), Note: string(r.Checkpoint)}
	if err := w.save(); err != nil {
		w.state[k] = st
		return nil, err
	}
	signed, err := note.Sign(&note.Note{Text: o.text}, w.cosigner)
	if err != nil {
		return nil, fmt.Errorf("witness: cosigning %q at size %d: %w", o.box, o.cp.Size, err)
	}
	w.cfg.Logger.Debug("witness cosigned", "log", o.box, "size", o.cp.Size)
	return signed[len(o.text)+1:], nil
}

// checkConsistent checks r's proof from the cosigned state to the offered
// checkpoint, and journals the evidence when it fails.
func (w *Witness) checkConsistent(ctx context.Context, k string, o *opened, st logState, r *Request) error {
	hs := make([][]byte, len(r.Proof))
	for i := range r.Proof {
		hs[i] = r.Proof[i][:]
	}
	err := merkleproof.VerifyConsistency(rfc6962.DefaultHasher, st.Size, o.cp.Size, hs, st.Root[:], o.cp.Hash)
	if err == nil {
		return nil
	}
	reason := contradiction(st.Size, o.cp.Size)
	ev := &Evidence{Log: o.box, Origin: o.origin, Reason: reason, Time: w.cfg.Now().UTC(), Cosigned: st.Note, Offered: string(r.Checkpoint)}
	w.cfg.Logger.Warn("witness refused a checkpoint that contradicts the cosigned one",
		"code", "witness_"+reason, "log", o.box, "cosigned_size", st.Size, "offered_size", o.cp.Size,
		"evidence_digest", ev.Digest())
	w.keepEvidence(ctx, k+" "+reason, st.Size, ev)
	return fmt.Errorf("%w: log %q at size %d (%s) against cosigned size %d: %w", ErrInconsistent, o.box, o.cp.Size, reason, st.Size, err)
}

// keepEvidence hands ev to Config.Evidence once per log, reason and
// contradicted size (ek names the first two); w.mu is held.
func (w *Witness) keepEvidence(ctx context.Context, ek string, size uint64, ev *Evidence) {
	if n, done := w.evidenced[ek]; w.cfg.Evidence == nil || (done && n == size) {
		return
	}
	w.evidenced[ek] = size
	if err := w.cfg.Evidence(ctx, ev); err != nil {
		w.cfg.Logger.Error("witness evidence not journaled", "log", ev.Log, "err", err)
	}
}

// contradiction names a failed consistency check from the cosigned size
// to the offered one: at equal sizes two signed roots are a fork on their
// own; otherwise the proof did not verify.
func contradiction(cosigned, offered uint64) string {
	if cosigned == offered {
		return ReasonFork
	}
	return ReasonInconsistent
}

// Digest is the SHA-256 of Marshal: the digest of the journal entry.
func (e *Evidence) Digest() proof.Hash { return sha256.Sum256(e.Marshal()) }

// Journal is the slice of the ledger that journals evidence.
type Journal interface {
	Append(ctx context.Context, e proof.Entry) (ledger.Appended, error)
}

// EvidenceContentType marks the journal entry of witness evidence.
const EvidenceContentType = "application/x.wardgate.witness-evidence+json"

// JournalEvidence is the Config.Evidence of a box: it writes the evidence
// to dir/<digest>.json (what an auditor is handed) and journals its digest
// as a KindRevocation entry naming the offending box as sender (the witness
// revokes its trust in that log), so the evidence is anchored with the
// witness's own log.
func JournalEvidence(j Journal, self, dir string) func(ctx context.Context, e *Evidence) error {
	return func(ctx context.Context, e *Evidence) error {
		b := e.Marshal()
		d := e.Digest()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("witness: evidence dir: %w", err)
		}
		if err := atomicfile.Write(filepath.Join(dir, d.String()+".json"), b, 0o600); err != nil {
			return fmt.Errorf("witness: writing evidence: %w", err)
		}
		_, err := j.Append(ctx, proof.Entry{Kind: proof.KindRevocation, Digest: d, Sender: e.Log, Receiver: self, ContentType: EvidenceContentType})
		if err != nil {
			return fmt.Errorf("witness: journaling evidence %s: %w", d, err)
		}
		return nil
	}
}
