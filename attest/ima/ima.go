// Package ima reads, writes and replays Linux IMA runtime measurement
// lists in the kernel's binary format (binary_runtime_measurements) with
// the ima-ng template, as a real box's kernel exposes at
// /sys/kernel/security/ima/binary_runtime_measurements and as the
// simulated box writes them. Each entry is, in host (little-endian) order:
//
//	u32 pcr | [20]byte template hash (SHA-1 of the template data) |
//	u32 len | template name ("ima-ng") |
//	u32 len | template data = u32 len | "sha256:\x00" digest  (d-ng)
//	                          u32 len | path "\x00"           (n-ng)
//
// A SHA-256 PCR bank is extended with SHA-256(template data), as the
// kernel does for non-SHA-1 banks.
package ima

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // the list's template hash field is SHA-1 by the kernel's format
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// PCR is the PCR the kernel extends runtime measurements into.
const PCR = 10

// Bounds of what a parser accepts from the network.
const (
	MaxEntries   = 1 << 16 // entries in one message
	MaxPathLen   = 4096    // PATH_MAX
	maxDataLen   = 8 + 7 + 64 + 4 + MaxPathLen + 1
	templateName = "ima-ng"
	digestPrefix = "sha256:\x00"
)

// Entry is one ima-ng measurement.
type Entry struct {
	PCR          uint32
	TemplateHash [20]byte // SHA-1 of the template data (all zero for a violation)
	Digest       [32]byte // the file's SHA-256
	Path         string
}

// ErrMalformed wraps every parse error.
var ErrMalformed = errors.New("ima: malformed measurement list")

// templateData is the ima-ng template data of e.
func (e Entry) templateData() []byte {
	var b bytes.Buffer
	d := append([]byte(digestPrefix), e.Digest[:]...)
	binary.Write(&b, binary.LittleEndian, uint32(len(d)))
	b.Write(d)
	n := append([]byte(e.Path), 0)
	binary.Write(&b, binary.LittleEndian, uint32(len(n)))
	b.Write(n)
	return b.Bytes()
}

// New is the entry the kernel would write for a file at path with
// SHA-256 digest.
func New(path string, digest [32]byte) Entry {
	e := Entry{PCR: PCR, Digest: digest, Path: path}
	e.TemplateHash = sha1.Sum(e.templateData()) //nolint:gosec // format-defined
	return e
}

// Violation reports whether the entry is a measurement violation (the
// kernel's all-zero template hash), which extends the PCR with all ones.
func (e Entry) Violation() bool { return e.TemplateHash == [20]byte{} }

// ExtendDigest is what the entry extends a SHA-256 PCR with.
func (e Entry) ExtendDigest() [32]byte {
	if e.Violation() {
		var ff [32]byte
		for i := range ff {
			ff[i] = 0xff
		}
		return ff
	}
	return sha256.Sum256(e.templateData())
}

// Marshal appends e in the kernel's binary format.
func (e Entry) Marshal(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, e.PCR)
	b = append(b, e.TemplateHash[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(templateName)))
	b = append(b, templateName...)
	td := e.templateData()
	b = binary.LittleEndian.AppendUint32(b, uint32(len(td)))
	return append(b, td...)
}

// Marshal encodes a list of entries.
func Marshal(es []Entry) []byte {
	var b []byte
	for _, e := range es {
		b = e.Marshal(b)
	}
	return b
}

// Parse decodes a binary measurement list of at most MaxEntries ima-ng
// entries. It checks every length against what remains, so that no input
// makes it allocate more than the input's size, and that each entry's
// template hash is the SHA-1 of its data (or a violation's zeros).
func Parse(raw []byte) ([]Entry, error) {
	var out []Entry
	r := bytes.NewReader(raw)
	for r.Len() > 0 {
		if len(out) == MaxEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrMalformed, MaxEntries)
		}
		e, err := parseEntry(r)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrMalformed, len(out), err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseEntry(r *bytes.Reader) (Entry, error) {
	var e Entry
	var err error
	if e.PCR, err = readU32(r); err != nil {
		return e, err
	}
	if e.PCR > 23 {
		return e, fmt.Errorf("pcr %d out of range", e.PCR)
	}
	if _, err := io.ReadFull(r, e.TemplateHash[:]); err != nil {
		return e, errors.New("truncated template hash")
	}
	name, err := readField(r, 32)
	if err != nil {
		return e, fmt.Errorf("template name: %w", err)
	}
	if string(name) != templateName {
		return e, fmt.Errorf("template %q is not %q", name, templateName)
	}
	data, err := readField(r, maxDataLen)
	if err != nil {
		return e, fmt.Errorf("template data: %w", err)
	}
	if err := e.parseData(data); err != nil {
		return e, err
	}
	if !e.Violation() && sha1.Sum(data) != e.TemplateHash { //nolint:gosec // format-defined
		return e, errors.New("template hash is not the SHA-1 of the template data")
	}
	return e, nil
}

// parseData reads the d-ng and n-ng fields, which must fill data exactly.
func (e *Entry) parseData(data []byte) error {
	r := bytes.NewReader(data)
	d, err := readField(r, len(digestPrefix)+64)
	if err != nil {
		return fmt.Errorf("d-ng: %w", err)
	}
	if !bytes.HasPrefix(d, []byte(digestPrefix)) || len(d) != len(digestPrefix)+32 {
		return errors.New("d-ng is not a sha256 digest")
	}
	copy(e.Digest[:], d[len(digestPrefix):])
	n, err := readField(r, MaxPathLen+1)
	if err != nil {
		return fmt.Errorf("n-ng: %w", err)
	}
	if len(n) == 0 || n[len(n)-1] != 0 || bytes.IndexByte(n[:len(n)-1], 0) >= 0 {
		return errors.New("n-ng is not one NUL-terminated path")
	}
	e.Path = string(n[:len(n)-1])
	if r.Len() != 0 {
		return errors.New("trailing bytes after n-ng")
	}
	return nil
}

func readU32(r *bytes.Reader) (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, errors.New("truncated length")
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// readField reads a u32-length-prefixed field of at most limit bytes.
func readField(r *bytes.Reader, limit int) ([]byte, error) {
	n, err := readU32(r)
	if err != nil {
		return nil, err
	}
	if int64(n) > int64(limit) || int(n) > r.Len() {
		return nil, fmt.Errorf("length %d exceeds the %d bytes allowed or left", n, min(limit, r.Len()))
	}
	b := make([]byte, n)
	_, _ = io.ReadFull(r, b)
	return b, nil
}

// Extend is the TPM's SHA-256 PCR extend.
func Extend(pcr [32]byte, digest [32]byte) [32]byte {
	return sha256.Sum256(append(pcr[:], digest[:]...))
}

// Replay extends from (a PCR value after some earlier entries) with es in
// order and returns how many of them bring the PCR to want: the longest
// prefix that does, or -1 if none (not even the empty one). A list read
// after the quote may hold entries the quote does not cover yet; the
// prefix is what the quote proves. Entries for other PCRs are skipped.
func Replay(from [32]byte, es []Entry, want [32]byte) int {
	n := -1
	cur := from
	if cur == want {
		n = 0
	}
	for i, e := range es {
		if e.PCR != PCR {
			continue
		}
		cur = Extend(cur, e.ExtendDigest())
		if cur == want {
			n = i + 1
		}
	}
	return n
}
