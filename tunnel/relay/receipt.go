package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/wardgate/wardgate/ledger"
)

// Receipt is what the sender hands its hospital system: its own ledger
// receipt for the sent entry (pending until the checkpoint is anchored,
// then anchored; GET /v1/receipts/{digest} always returns the newest form),
// and the receiver's countersignature.
type Receipt struct {
	Version     int             `json:"version"`
	Digest      ledger.Hash     `json:"digest"`
	Kind        string          `json:"kind"` // "sent" or "received"
	Sender      string          `json:"sender"`
	Receiver    string          `json:"receiver"`
	ContentType string          `json:"content_type"`
	Status      string          `json:"status"` // ledger.StatusPending or ledger.StatusAnchored
	Ledger      *ledger.Receipt `json:"ledger"`
	// Countersign is the receiver's signed acknowledgement. It is kept in
	// memory only: after a restart the receipt endpoint returns the ledger
	// part, and a resend of the same record fetches the countersignature
	// again without a second delivery.
	Countersign *Countersign `json:"countersign,omitempty"`
	// Delivery says, for a sent record, whether the receiver countersigned
	// it: DeliveryCountersigned, DeliveryNotReceived (the receiver has no
	// record of it: resend the same body), or DeliveryUnknown with
	// DeliveryError (the receiver could not be asked).
	Delivery      string `json:"delivery,omitempty"`
	DeliveryError string `json:"delivery_error,omitempty"`
}

// Delivery states of a sent record's receipt.
const (
	DeliveryCountersigned = "countersigned"
	DeliveryNotReceived   = "not_received"
	DeliveryUnknown       = "unknown"
)

// Countersign is the receiver's statement that it received, delivered and
// journaled the record of the sender's entry. The receiver signs, with its
// attested record key, the hash of the sender's signed entry together with
// its own signed KindReceived entry. The records of one peer batch share one
// signature over their batch root (ledger.BatchProof); Batch places this
// countersignature in it.
type Countersign struct {
	SentEntryHash ledger.Hash       `json:"sent_entry_hash"` // SHA-256 of the sender's entry (MarshalBinary)
	ReceivedEntry []byte            `json:"received_entry"`  // receiver's entry, MarshalBinary
	ReceiverKey   []byte            `json:"receiver_key"`
	Signature     []byte            `json:"signature"`
	Batch         ledger.BatchProof `json:"batch"`
}

const countersignDomain = "wardgate/relay/countersign/v1\x00"

// csBatchDomain separates countersignature batch roots from entry batches.
const csBatchDomain = "countersign/v1\x00"

// maxCountersign bounds a countersignature on the wire.
const maxCountersign = 8 << 10

func (c *Countersign) signedBytes() []byte {
	b := make([]byte, 0, len(countersignDomain)+32+len(c.ReceivedEntry))
	b = append(b, countersignDomain...)
	b = append(b, c.SentEntryHash[:]...)
	return append(b, c.ReceivedEntry...)
}

func countersign(s ledger.Signer, sentRaw []byte, recv *ledger.Entry) (*Countersign, error) {
	cs, err := countersignAll(s, [][]byte{sentRaw}, []*ledger.Entry{recv})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// countersignAll countersigns many records with one signature per
// ledger.MaxBatchSign of them.
func countersignAll(s ledger.Signer, sentRaws [][]byte, recvs []*ledger.Entry) ([]*Countersign, error) {
	out := make([]*Countersign, len(recvs))
	for lo := 0; lo < len(recvs); lo += ledger.MaxBatchSign {
		hi := min(lo+ledger.MaxBatchSign, len(recvs))
		leaves := make([][32]byte, hi-lo)
		for i := lo; i < hi; i++ {
			raw, err := recvs[i].MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("relay: encoding received entry: %w", err)
			}
			out[i] = &Countersign{SentEntryHash: sha256.Sum256(sentRaws[i]), ReceivedEntry: raw, ReceiverKey: s.Public()}
			leaves[i-lo] = ledger.BatchLeaf(out[i].signedBytes())
		}
		sig, proofs, err := ledger.SignBatch(s, csBatchDomain, leaves)
		if err != nil {
			return nil, fmt.Errorf("relay: countersigning: %w", err)
		}
		for i := lo; i < hi; i++ {
			out[i].Signature, out[i].Batch = sig, proofs[i-lo]
		}
	}
	return out, nil
}

// Verify checks the countersignature against the receiver's attested
// record key and the sender's entry it acknowledges: the hash, the received
// entry's fields (kind, digest, sender, receiver) and both signatures.
func (c *Countersign) Verify(receiverKey ed25519.PublicKey, sentRaw []byte) error {
	return c.check(receiverKey, sentRaw, true, nil)
}

// check verifies the countersignature; full also verifies the received
// entry's own signature (which the countersignature covers byte for byte).
// A cache makes the rest of a batch cost only its path hashes.
func (c *Countersign) check(receiverKey ed25519.PublicKey, sentRaw []byte, full bool, cache *ledger.SigCache) error {
	if len(receiverKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: receiver key is %d bytes", ErrBadCountersign, len(receiverKey))
	}
	if !bytes.Equal(c.ReceiverKey, receiverKey) {
		return fmt.Errorf("%w: signed by key %x, the receiver's attested record key is %x", ErrBadCountersign, c.ReceiverKey, []byte(receiverKey))
	}
	if sha256.Sum256(sentRaw) != c.SentEntryHash {
		return fmt.Errorf("%w: acknowledges another sent entry", ErrBadCountersign)
	}
	var sent, recv ledger.Entry
	if err := sent.UnmarshalBinary(sentRaw); err != nil {
		return fmt.Errorf("%w: sent entry: %w", ErrBadCountersign, err)
	}
	if err := recv.UnmarshalBinary(c.ReceivedEntry); err != nil {
		return fmt.Errorf("%w: received entry: %w", ErrBadCountersign, err)
	}
	if recv.Kind != ledger.KindReceived || recv.Digest != sent.Digest || recv.Sender != sent.Sender ||
		recv.Receiver != sent.Receiver || recv.Log != sent.Receiver {
		return fmt.Errorf("%w: received entry (%s %x %s->%s in log %q) does not match the sent entry (%x %s->%s)",
			ErrBadCountersign, recv.Kind, recv.Digest[:6], recv.Sender, recv.Receiver, recv.Log, sent.Digest[:6], sent.Sender, sent.Receiver)
	}
	if full {
		if err := recv.VerifySignatureCached(receiverKey, cache); err != nil {
			return fmt.Errorf("%w: received entry: %w", ErrBadCountersign, err)
		}
	}
	if err := ledger.VerifyBatch(receiverKey, csBatchDomain, c.signedBytes(), c.Batch, c.Signature, cache); err != nil {
		return fmt.Errorf("%w: signature does not verify: %w", ErrBadCountersign, err)
	}
	return nil
}

// appendBinary is the countersignature's form on the peer batch protocol:
// sent entry hash, received entry (u16 length), receiver key, batch proof,
// signature.
func (c *Countersign) appendBinary(b []byte) []byte {
	b = append(b, c.SentEntryHash[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.ReceivedEntry)))
	b = append(b, c.ReceivedEntry...)
	b = append(b, c.ReceiverKey...)
	b = ledger.AppendBatchProof(b, c.Batch)
	return append(b, c.Signature...)
}

// parseCountersignBinary decodes what appendBinary wrote and returns the rest.
func parseCountersignBinary(b []byte) (*Countersign, []byte, error) {
	var c Countersign
	if len(b) < 32+2 {
		return nil, nil, fmt.Errorf("%w: truncated", ErrBadCountersign)
	}
	copy(c.SentEntryHash[:], b)
	n := int(binary.BigEndian.Uint16(b[32:]))
	b = b[34:]
	if n > maxEntryRaw || len(b) < n+ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("%w: received entry of %d bytes (limit %d) in %d", ErrBadCountersign, n, maxEntryRaw, len(b))
	}
	c.ReceivedEntry = append([]byte(nil), b[:n]...)
	c.ReceiverKey = append([]byte(nil), b[n:n+ed25519.PublicKeySize]...)
	p, rest, err := ledger.ParseBatchProof(b[n+ed25519.PublicKeySize:])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadCountersign, err)
	}
	if len(rest) < ed25519.SignatureSize {
		return nil, nil, fmt.Errorf("%w: truncated signature", ErrBadCountersign)
	}
	c.Batch = p
	c.Signature = append([]byte(nil), rest[:ed25519.SignatureSize]...)
	return &c, rest[ed25519.SignatureSize:], nil
}

// ParseCountersign decodes a countersignature from a peer (bounded, strict).
func ParseCountersign(b []byte) (*Countersign, error) {
	if len(b) > maxCountersign {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadCountersign, len(b), maxCountersign)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Countersign
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCountersign, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadCountersign)
	}
	if len(c.ReceiverKey) != ed25519.PublicKeySize || len(c.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: receiver_key must be %d bytes and signature %d bytes", ErrBadCountersign, ed25519.PublicKeySize, ed25519.SignatureSize)
	}
	return &c, nil
}

// VerifyReceipt checks a relay receipt offline (or online, with o.Backend):
// the sender's ledger receipt against senderKey (and o.Record if set) and,
// if receiverKey is given, the receiver's countersignature.
func VerifyReceipt(ctx context.Context, rc *Receipt, senderKey, receiverKey ed25519.PublicKey, o ledger.VerifyOptions) (*ledger.Result, error) {
	if rc.Ledger == nil {
		return nil, fmt.Errorf("%w: receipt has no ledger part", ledger.ErrMalformedReceipt)
	}
	o.RecordKey = senderKey
	res, err := ledger.Verify(ctx, rc.Ledger, o)
	if err != nil {
		return nil, err
	}
	if res.Entry.Digest != [32]byte(rc.Digest) {
		return nil, fmt.Errorf("%w: receipt digest %x, ledger entry digest %x", ledger.ErrDigestMismatch, rc.Digest[:], res.Entry.Digest[:])
	}
	if receiverKey != nil {
		if rc.Countersign == nil {
			return nil, fmt.Errorf("%w: receipt has no countersignature", ErrBadCountersign)
		}
		if err := rc.Countersign.Verify(receiverKey, rc.Ledger.Entry); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// csCache keeps recent countersignatures in memory, bounded, oldest evicted.
type csCache struct {
	mu    sync.Mutex
	max   int
	m     map[csKey]*Countersign
	order []csKey
}

type csKey struct {
	digest [32]byte
	peer   string
}

func newCSCache(max int) *csCache { return &csCache{max: max, m: make(map[csKey]*Countersign)} }

func (c *csCache) put(d [32]byte, peer string, cs *Countersign) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := csKey{d, peer}
	if _, ok := c.m[k]; !ok {
		c.order = append(c.order, k)
	}
	c.m[k] = cs
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *csCache) get(d [32]byte, peer string) *Countersign {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[csKey{d, peer}]
}

// MaxReceiptSize bounds a relay receipt file: a ledger receipt plus a countersignature.
const MaxReceiptSize = ledger.MaxReceiptSize + maxCountersign + 4<<10

// ParseReceipt decodes a relay receipt (what POST /v1/records and GET
// /v1/receipts return), checking its shape, not its truth: call
// VerifyReceipt for that. A plain ledger receipt is accepted too, for
// tools that take either.
func ParseReceipt(b []byte) (*Receipt, error) {
	if len(b) > MaxReceiptSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ledger.ErrReceiptTooLarge, len(b), MaxReceiptSize)
	}
	var raw struct {
		Version     int             `json:"version"`
		Digest      *ledger.Hash    `json:"digest"`
		Kind        string          `json:"kind"`
		Sender      string          `json:"sender"`
		Receiver    string          `json:"receiver"`
		ContentType string          `json:"content_type"`
		Status      string          `json:"status"`
		Ledger      json.RawMessage `json:"ledger"`
		Countersign json.RawMessage `json:"countersign"`
		Delivery    string          `json:"delivery"`
		DeliveryErr string          `json:"delivery_error"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ledger.ErrMalformedReceipt, err)
	}
	if raw.Ledger == nil {
		// Not a relay receipt: maybe a bare ledger receipt.
		lr, err := ledger.ParseReceipt(b)
		if err != nil {
			return nil, err
		}
		return newReceipt(lr, nil)
	}
	lr, err := ledger.ParseReceipt(raw.Ledger)
	if err != nil {
		return nil, fmt.Errorf("ledger part: %w", err)
	}
	rc, err := newReceipt(lr, nil)
	if err != nil {
		return nil, err
	}
	if raw.Digest == nil || *raw.Digest != rc.Digest || raw.Status != lr.Status || raw.Sender != rc.Sender || raw.Receiver != rc.Receiver {
		return nil, fmt.Errorf("%w: header (digest, status, sender, receiver) disagrees with the ledger entry", ledger.ErrMalformedReceipt)
	}
	if len(raw.Countersign) > 0 && string(raw.Countersign) != "null" {
		if rc.Countersign, err = ParseCountersign(raw.Countersign); err != nil {
			return nil, err
		}
	}
	rc.Delivery, rc.DeliveryError = raw.Delivery, raw.DeliveryErr
	return rc, nil
}
