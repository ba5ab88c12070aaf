// Package witness is a C2SP tlog-witness (c2sp.org/tlog-witness) for the
// logs of a box's peers, and the client a box uses to have its own log
// witnessed by them. A witness cosigns a peer's checkpoint only if it is
// consistent with every checkpoint of that log it cosigned before, so a box
// cannot show two peers two different logs (a split view) or roll its log
// back without a witness refusing, journaling the evidence, and verifiers
// that require cosignatures (`wardgate verify --witnesses N`) noticing.
package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wardgate/wardgate/ledger/proof"
)

// Path is where the peer records server serves add-checkpoint: the C2SP
// witness URL prefix is "/witness".
const Path = "/witness/add-checkpoint"

// maxProofLines is the longest consistency proof of a 2^64-entry log.
const maxProofLines = 63

// MaxRequest bounds an add-checkpoint body: the old line, the proof and a
// checkpoint note.
const MaxRequest = 32 + maxProofLines*46 + 1 + proof.MaxNoteSize

// ErrMalformed: an add-checkpoint request (or reply) does not parse.
var ErrMalformed = errors.New("witness: malformed add-checkpoint request")

// Request is a tlog-witness add-checkpoint request: the size the client
// believes the witness last cosigned, a consistency proof from it to the
// checkpoint, and the checkpoint as a signed note.
type Request struct {
	OldSize    uint64
	Proof      [][32]byte
	Checkpoint []byte
}

// Marshal encodes the request body:
//
//	old <size>
//	<base64 proof hash>...
//	<blank line>
//	<checkpoint note>
func (r *Request) Marshal() []byte {
	b := fmt.Appendf(nil, "old %d\n", r.OldSize)
	for _, h := range r.Proof {
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, r.Checkpoint...)
}

// ParseRequest decodes an add-checkpoint body strictly: bounded, a
// canonical decimal old size, at most 63 proof hashes of 32 bytes, and a
// non-empty checkpoint. It checks shape, not signatures.
func ParseRequest(b []byte) (*Request, error) {
	if len(b) > MaxRequest {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxRequest)
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no blank line between the proof and the checkpoint", ErrMalformed)
	}
	lines := strings.Split(string(head), "\n")
	old, err := parseOld(lines[0])
	if err != nil {
		return nil, err
	}
	r := &Request{OldSize: old, Checkpoint: cp}
	if len(lines)-1 > maxProofLines {
		return nil, fmt.Errorf("%w: %d proof lines, limit %d", ErrMalformed, len(lines)-1, maxProofLines)
	}
	for i, l := range lines[1:] {
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("%w: proof line %d is not a base64 32-byte hash", ErrMalformed, i+1)
		}
		r.Proof = append(r.Proof, [32]byte(h))
	}
	if len(cp) == 0 {
		return nil, fmt.Errorf("%w: the checkpoint is empty", ErrMalformed)
	}
	return r, nil
}

// parseOld reads the "old N" line; N is canonical decimal (no sign, no
// leading zeros), so one size has one spelling.
func parseOld(line string) (uint64, error) {
	s, ok := strings.CutPrefix(line, "old ")
	if !ok {
		return 0, fmt.Errorf("%w: first line must be \"old <size>\", got %.40q", ErrMalformed, line)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, fmt.Errorf("%w: old size %.30q is not a canonical decimal", ErrMalformed, s)
	}
	return n, nil
}

// parseSizeReply reads a 409 reply body (text/x.tlog.size): the size the
// witness has for the log.
func parseSizeReply(b []byte) (uint64, error) {
	s := strings.TrimSuffix(string(b), "\n")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, fmt.Errorf("%w: 409 reply %.30q is not a size", ErrMalformed, s)
	}
	return n, nil
}
