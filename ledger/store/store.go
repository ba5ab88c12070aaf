// Package store is the on-disk format of a ledger state dir: the bbolt
// bucket and key names and the write-ahead log's records, files and the
// rule for reading them back. The ledger writes it; the offline checker
// (ledger/check, used by `wardgate ledger check`) reads it. It imports only
// the standard library, so the CLI can read a state dir without linking the
// writer.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"
)

// DBName is the bbolt file in a state dir.
const DBName = "ledger.db"

// Buckets and meta keys of the bbolt file.
var (
	BucketEntries     = []byte("entries")     // seq (BE) -> Entry.MarshalBinary
	BucketCheckpoints = []byte("checkpoints") // size (BE) -> Checkpoint JSON
	BucketAnchors     = []byte("anchors")     // size (BE) -> Anchor JSON
	BucketMeta        = []byte("meta")        // key -> value
	// BucketCosignatures holds witness cosignature lines of checkpoints.
	BucketCosignatures = []byte("cosignatures") // size (BE) -> signed-note signature lines

	MetaBox      = []byte("box")
	MetaKey      = []byte("record-key")
	MetaInflight = []byte("inflight-tx") // the anchoring tx sent but not yet confirmed
)

// WAL records: u32 length of the payload, u32 CRC-32C of it, payload =
// type, u64 key (seq or checkpoint size), value.
const (
	WALEntry      = 1
	WALCheckpoint = 2
	WALHeader     = 8
	minPayload    = 9
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// U64Key is a bbolt key: v big-endian.
func U64Key(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// WALName is the path of WAL generation gen in dir.
func WALName(dir string, gen uint64) string {
	return filepath.Join(dir, fmt.Sprintf("ledger-%016x.wal", gen))
}

// WALGens picks the WAL generations out of file names (as from a glob of
// WALGlob), oldest first.
func WALGens(names []string) []uint64 {
	var gens []uint64
	for _, n := range names {
		var g uint64
		if _, err := fmt.Sscanf(filepath.Base(n), "ledger-%016x.wal", &g); err == nil && WALName(filepath.Dir(n), g) == filepath.Clean(n) {
			gens = append(gens, g)
		}
	}
	slices.Sort(gens)
	return gens
}

// WALGlob matches the WAL files of dir.
func WALGlob(dir string) string { return filepath.Join(dir, "ledger-*.wal") }

// AppendWAL appends one record to b.
func AppendWAL(b []byte, typ byte, key uint64, v []byte) []byte {
	off := len(b)
	b = append(b, make([]byte, WALHeader)...)
	b = append(b, typ)
	b = binary.BigEndian.AppendUint64(b, key)
	b = append(b, v...)
	binary.BigEndian.PutUint32(b[off:], uint32(len(b)-off-WALHeader))
	binary.BigEndian.PutUint32(b[off+4:], crc32.Checksum(b[off+WALHeader:], castagnoli))
	return b
}

// Record is one WAL record.
type Record struct {
	Type  byte
	Key   uint64
	Value []byte
}

// ErrCorruptWAL is a bad record that cannot be a torn, unacknowledged
// write: acknowledged entries may follow it, so the ledger refuses to open
// rather than drop them.
var ErrCorruptWAL = errors.New("write-ahead log is corrupt")

// Damage is where a WAL file stops parsing.
type Damage struct {
	File   string
	Offset int
	Reason string
}

// ParseWAL reads the records of one WAL file. A bad record is reported as
// Damage with the records before it; the caller decides whether that file
// may end in a torn write (see ReadWALs).
func ParseWAL(file string, b []byte) ([]Record, *Damage) {
	var recs []Record
	off := 0
	for off < len(b) {
		rest := b[off:]
		if len(rest) < WALHeader {
			return recs, &Damage{file, off, fmt.Sprintf("%d-byte record header, want %d", len(rest), WALHeader)}
		}
		n := binary.BigEndian.Uint32(rest)
		if n < minPayload || uint64(len(rest)-WALHeader) < uint64(n) {
			return recs, &Damage{file, off, fmt.Sprintf("record length %d with %d bytes left", n, len(rest)-WALHeader)}
		}
		p := rest[WALHeader : WALHeader+n]
		if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(rest[4:]) {
			return recs, &Damage{file, off, "record checksum mismatch"}
		}
		if p[0] != WALEntry && p[0] != WALCheckpoint {
			return recs, &Damage{file, off, fmt.Sprintf("record type %d", p[0])}
		}
		recs = append(recs, Record{Type: p[0], Key: binary.BigEndian.Uint64(p[1:]), Value: p[minPayload:]})
		off += WALHeader + int(n)
	}
	return recs, nil
}

// tornTail reports whether damage at d.Offset of b can be a write that was
// cut short (never fsync'd, so never acknowledged): no valid record starts
// anywhere after it. A record that does (after a flipped length byte, say)
// may be acknowledged, so that damage is corruption. The scan costs one
// CRC only where a length fits in the file, and runs only on damage.
func tornTail(b []byte, d *Damage) bool {
	for off := d.Offset + 1; off+WALHeader+minPayload <= len(b); off++ {
		n := binary.BigEndian.Uint32(b[off:])
		if n < minPayload || uint64(len(b)-off-WALHeader) < uint64(n) {
			continue
		}
		p := b[off+WALHeader : off+WALHeader+int(n)]
		if (p[0] == WALEntry || p[0] == WALCheckpoint) && crc32.Checksum(p, castagnoli) == binary.BigEndian.Uint32(b[off+4:]) {
			return false
		}
	}
	return true
}

// WALFile is one WAL generation's name and contents.
type WALFile struct {
	Name string
	Data []byte
}

// Torn is a torn write dropped at the tail of the newest WAL file.
type Torn struct {
	Damage
	Bytes int // bytes dropped
}

// ReadWALs reads WAL files, oldest first, into records. A bad record is
// tolerated only at the tail of the newest file that holds any bytes (files
// after it are ones created, empty, just before a crash): there a group
// commit's write may have been cut short by a crash, and none of it was
// acknowledged. Anywhere else it is an ErrCorruptWAL naming the file and
// offset.
func ReadWALs(files []WALFile) ([]Record, *Torn, error) {
	last := -1
	for i, f := range files {
		if len(f.Data) > 0 {
			last = i
		}
	}
	var all []Record
	for i, f := range files {
		recs, d := ParseWAL(f.Name, f.Data)
		all = append(all, recs...)
		if d == nil {
			continue
		}
		if i == last && tornTail(f.Data, d) {
			return all, &Torn{Damage: *d, Bytes: len(f.Data) - d.Offset}, nil
		}
		where := "an older write-ahead log file"
		if i == last {
			where = "the newest write-ahead log file with records after it"
		}
		return nil, nil, fmt.Errorf("%w: %s at offset %d: %s, in %s, so acknowledged entries may follow it; "+
			"the files are kept: run `wardgate ledger check --state-dir %s`, restore the state dir from a backup or "+
			"move the damaged file aside only if you accept losing the entries in it", ErrCorruptWAL, d.File, d.Offset, d.Reason, where, filepath.Dir(d.File))
	}
	return all, nil, nil
}
