package proof

import (
	"errors"
	"fmt"

	fproof "github.com/transparency-dev/formats/proof"
)

// ErrNoNote: a receipt of a version 1 checkpoint has no C2SP form.
var ErrNoNote = errors.New("proof: the receipt's checkpoint is version 1 (no signed note)")

// TLogProof encodes r as a c2sp.org/tlog-proof@v1 file: the leaf index,
// the inclusion proof and the (cosigned) checkpoint note, with the signed
// entry as the "extra" data so that the file alone gives the leaf
// (HashLeaf(extra)) a C2SP tool checks against the checkpoint.
func TLogProof(r *Receipt) ([]byte, error) {
	if r.Checkpoint.Note == "" {
		return nil, fmt.Errorf("%w: ask the box for a newer receipt", ErrNoNote)
	}
	p := fproof.TLogProof{Index: r.LeafIndex, Checkpoint: []byte(r.Checkpoint.Note), ExtraData: r.Entry}
	for _, h := range r.InclusionProof {
		p.Hashes = append(p.Hashes, h)
	}
	return p.Marshal(), nil
}
