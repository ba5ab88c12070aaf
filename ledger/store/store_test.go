package store

import (
	"bytes"
	"errors"
	"testing"
)

func walOf(keys ...uint64) []byte {
	var b []byte
	for _, k := range keys {
		b = AppendWAL(b, WALEntry, k, bytes.Repeat([]byte{byte(k)}, 40))
	}
	return b
}

// The torn-tail rule: a cut-short or garbled last record of the newest
// file with bytes is dropped; the same damage with a valid record after it,
// or in an older file, is ErrCorruptWAL.
func TestReadWALs(t *testing.T) {
	full := walOf(0, 1, 2)
	rec := len(full) / 3
	flip := func(b []byte, at int) []byte { b = bytes.Clone(b); b[at] ^= 1; return b }
	for _, tc := range []struct {
		name    string
		files   [][]byte
		records int
		torn    bool
		corrupt bool
	}{
		{"clean", [][]byte{full}, 3, false, false},
		{"cut short", [][]byte{full[:len(full)-5]}, 2, true, false},
		{"half a header", [][]byte{full[:2*rec+3]}, 2, true, false},
		{"last record flipped", [][]byte{flip(full, len(full)-1)}, 2, true, false},
		{"zero-filled tail", [][]byte{append(full[:2*rec:2*rec], make([]byte, rec)...)}, 2, true, false},
		{"then an empty newer file", [][]byte{full[:len(full)-5], nil}, 2, true, false},
		{"mid-log payload flipped", [][]byte{flip(full, rec+20)}, 0, false, true},
		{"mid-log length flipped", [][]byte{flip(full, rec)}, 0, false, true},
		{"older file's tail", [][]byte{full[:len(full)-5], walOf(3)}, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []WALFile
			for i, b := range tc.files {
				files = append(files, WALFile{Name: WALName("/state", uint64(i+1)), Data: b})
			}
			recs, torn, err := ReadWALs(files)
			if tc.corrupt {
				if !errors.Is(err, ErrCorruptWAL) {
					t.Fatalf("err = %v, want ErrCorruptWAL", err)
				}
				return
			}
			if err != nil || len(recs) != tc.records || (torn != nil) != tc.torn {
				t.Fatalf("%d records, torn %v, err %v; want %d, torn %v", len(recs), torn, err, tc.records, tc.torn)
			}
		})
	}
}

// FuzzReadWALs: the WAL is read back from a disk that may hold anything.
// Reading must not panic, and what it accepts must re-encode to a prefix
// of the input.
func FuzzReadWALs(f *testing.F) {
	f.Add(walOf(0, 1, 2))
	f.Add(walOf(0)[:11])
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, torn, err := ReadWALs([]WALFile{{Name: WALName("/state", 1), Data: b}})
		if err != nil {
			return
		}
		var enc []byte
		for _, r := range recs {
			enc = AppendWAL(enc, r.Type, r.Key, r.Value)
		}
		if !bytes.HasPrefix(b, enc) || (torn == nil && len(enc) != len(b)) || (torn != nil && torn.Offset != len(enc)) {
			t.Fatalf("accepted records do not re-encode to the input's prefix")
		}
	})
}
