package proof

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Append-style JSON encoders for the receipt types. A box writes one receipt
// per record it forwards, and encoding/json's reflection (with an
// allocating MarshalText per hash, some 30 a receipt) was about an eighth of
// the sending box's CPU in bulk. The output is byte for byte what
// json.Marshal writes (TestReceiptJSONMatches, FuzzReceiptJSON), so readers
// keep using encoding/json and either encoder may write a receipt.

// AppendJSONString appends s as a JSON string, escaped as json.Marshal
// escapes it (HTML characters included).
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // rare: leave the escaping rules to encoding/json
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendJSONBytes appends p as json.Marshal writes a []byte: standard
// base64 in a string, or null for nil.
func AppendJSONBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}

// AppendJSONTime appends t as time.Time's MarshalJSON writes it.
func AppendJSONTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		q, _ := json.Marshal(t) // out of range: whatever encoding/json makes of it
		return append(b, q...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// AppendJSON appends h as a hex string.
func (h Hash) AppendJSON(b []byte) []byte {
	b = append(b, '"')
	b = hex.AppendEncode(b, h[:])
	return append(b, '"')
}

func appendHashes(b []byte, hs []Hash) []byte {
	if hs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = h.AppendJSON(b)
	}
	return append(b, ']')
}

// append0x appends p as go-ethereum's common.Address and common.Hash
// marshal: "0x" and lower-case hex.
func append0x(b []byte, p []byte) []byte {
	b = append(b, `"0x`...)
	b = hex.AppendEncode(b, p)
	return append(b, '"')
}

// AppendJSON appends the checkpoint as json.Marshal writes it.
func (c *Checkpoint) AppendJSON(b []byte) []byte {
	b = append(b, `{"log":`...)
	b = AppendJSONString(b, c.Log)
	b = append(b, `,"size":`...)
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, `,"root":`...)
	b = c.Root.AppendJSON(b)
	b = append(b, `,"time":`...)
	b = AppendJSONTime(b, c.Time)
	b = append(b, `,"signature":`...)
	b = AppendJSONBytes(b, c.Signature)
	if c.Note != "" {
		b = append(b, `,"note":`...)
		b = AppendJSONString(b, c.Note)
	}
	return append(b, '}')
}

// AppendJSON appends the anchor as json.Marshal writes it.
func (a *Anchor) AppendJSON(b []byte) []byte {
	b = append(b, `{"size":`...)
	b = strconv.AppendUint(b, a.Size, 10)
	b = append(b, `,"root":`...)
	b = a.Root.AppendJSON(b)
	b = append(b, `,"chain_id":`...)
	b = strconv.AppendUint(b, a.ChainID, 10)
	b = append(b, `,"contract":`...)
	b = append0x(b, a.Contract[:])
	b = append(b, `,"gateway":`...)
	b = append0x(b, a.Gateway[:])
	b = append(b, `,"tx_hash":`...)
	b = append0x(b, a.TxHash[:])
	b = append(b, `,"block":`...)
	b = strconv.AppendUint(b, a.Block, 10)
	b = append(b, `,"block_hash":`...)
	b = append0x(b, a.BlockHash[:])
	return append(b, '}')
}

// AppendJSON appends the batch proof as json.Marshal writes it.
func (p *BatchProof) AppendJSON(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, uint64(p.Index), 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendUint(b, uint64(p.Size), 10)
	if len(p.Path) > 0 {
		b = append(b, `,"path":`...)
		b = appendHashes(b, p.Path)
	}
	return append(b, '}')
}

// AppendJSON appends the receipt as json.Marshal writes it.
func (r *Receipt) AppendJSON(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, r.Status)
	b = append(b, `,"entry":`...)
	b = AppendJSONBytes(b, r.Entry)
	b = append(b, `,"record_key":`...)
	b = AppendJSONBytes(b, r.RecordKey)
	b = append(b, `,"leaf_index":`...)
	b = strconv.AppendUint(b, r.LeafIndex, 10)
	b = append(b, `,"checkpoint":`...)
	b = r.Checkpoint.AppendJSON(b)
	b = append(b, `,"inclusion_proof":`...)
	b = appendHashes(b, r.InclusionProof)
	if r.Anchor != nil {
		b = append(b, `,"anchor":`...)
		b = r.Anchor.AppendJSON(b)
	}
	return append(b, '}')
}
