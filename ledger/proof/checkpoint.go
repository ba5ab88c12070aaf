package proof

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement by a box that its log had Size entries
// with the given Root at Time. Checkpoints are what get anchored on chain.
type Checkpoint struct {
	Log       string    `json:"log"`
	Size      uint64    `json:"size"`
	Root      Hash      `json:"root"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"` // version 1 only
	// Note is the C2SP signed note of a version 2 checkpoint, with any
	// witness cosignatures (note.go). Time is not in it: it says when the
	// box made the checkpoint, and nothing relies on it.
	Note string `json:"note,omitempty"`
}

// checkpointDomain is the first line of the signed checkpoint text, in the
// spirit of C2SP signed notes: a human can read what was signed.
const checkpointDomain = "wardgate/ledger/checkpoint/v1"

// SignedBytes is the text a version 1 checkpoint's signature covers.
func (c *Checkpoint) SignedBytes() []byte {
	return fmt.Appendf(nil, "%s\n%s\n%d\n%s\n%d\n", checkpointDomain, c.Log, c.Size,
		base64.StdEncoding.EncodeToString(c.Root[:]), c.Time.UnixNano())
}

// Sign makes c a version 2 checkpoint: a C2SP signed note by the record key.
func (c *Checkpoint) Sign(s Signer) error {
	ns, err := logSigner(s, c.Log)
	if err != nil {
		return err
	}
	msg, err := note.Sign(&note.Note{Text: string(c.NoteText())}, ns)
	if err != nil {
		return fmt.Errorf("proof: signing checkpoint at size %d: %w", c.Size, err)
	}
	c.Note, c.Signature = string(msg), nil
	return nil
}

// VerifySignature checks the checkpoint signature against the box's record
// key: the signed note of a version 2 checkpoint, or the version 1 signature
// over SignedBytes. Both forms commit to log, size and root under the same
// key, so accepting the old one grants a forger nothing.
func (c *Checkpoint) VerifySignature(pub ed25519.PublicKey) error {
	if c.Note != "" {
		return c.verifyNote(pub)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, c.SignedBytes(), c.Signature) {
		return fmt.Errorf("%w: checkpoint of log %q at size %d", ErrBadSignature, c.Log, c.Size)
	}
	return nil
}

// Hash is a 32-byte hash that reads and writes as hex in JSON.
type Hash [32]byte

func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

func (h Hash) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h[:]), nil }

func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("hash is %d hex characters, want 64", len(b))
	}
	var out Hash
	if _, err := hex.Decode(out[:], b); err != nil {
		return fmt.Errorf("hash is not hex: %w", err)
	}
	*h = out
	return nil
}

// Anchor says where a checkpoint was anchored.
type Anchor struct {
	Size     uint64         `json:"size"`
	Root     Hash           `json:"root"`
	ChainID  uint64         `json:"chain_id"`
	Contract common.Address `json:"contract"`
	Gateway  common.Address `json:"gateway"`
	TxHash   common.Hash    `json:"tx_hash"`
	Block    uint64         `json:"block"`
	// BlockHash pins the block, so a reorg is visible to a verifier.
	BlockHash common.Hash `json:"block_hash"`
}

// Backend is the slice of an Ethereum client the ledger uses. Both
// *ethclient.Client and the simulated backend's client satisfy it.
type Backend interface {
	bind.ContractBackend
	ethereum.TransactionReader
	ethereum.ChainIDReader
	ethereum.BlockNumberReader
	ethereum.ChainStateReader
}
