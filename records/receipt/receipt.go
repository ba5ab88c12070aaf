// Package receipt is what a sender hands its hospital system for a record:
// its own ledger receipt and the receiver's countersignature, with their
// binary and JSON encodings, size limits and verification. It needs only
// ledger/proof, so `wardgate verify` checks a receipt without a relay.
package receipt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wardgate/wardgate/ledger/proof"
)

// Receipt is what the sender hands its hospital system: its own ledger
// receipt for the sent entry (pending until the checkpoint is anchored,
// then anchored; GET /v1/receipts/{digest} always returns the newest form),
// and the receiver's countersignature.
type Receipt struct {
	Version     int            `json:"version"`
	Digest      proof.Hash     `json:"digest"`
	Kind        string         `json:"kind"` // "sent" or "received"
	Sender      string         `json:"sender"`
	Receiver    string         `json:"receiver"`
	ContentType string         `json:"content_type"`
	Status      string         `json:"status"` // ledger.StatusPending or ledger.StatusAnchored
	Ledger      *proof.Receipt `json:"ledger"`
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
	// Consent is the consent the record was released under (from the
	// signed entry; absent for records sent without the consent gate).
	Consent *Consent `json:"consent,omitempty"`
}

// Consent names, in a receipt, the consent a record was released under.
// `wardgate verify --consent FILE` checks Digest against the resource.
type Consent struct {
	ID      string     `json:"id"`
	Version string     `json:"version"`
	Digest  proof.Hash `json:"digest"`
}

// consentOf is the receipt's consent part of e, or nil.
func consentOf(e *proof.Entry) *Consent {
	if e.Consent.ID == "" {
		return nil
	}
	return &Consent{ID: e.Consent.ID, Version: e.Consent.Version, Digest: proof.Hash(e.Consent.Digest)}
}

// checkConsent compares a receipt's consent field (raw, as read) with the
// signed entry's.
func checkConsent(raw json.RawMessage, want *Consent) error {
	var got *Consent
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &got); err != nil {
			return fmt.Errorf("%w: field \"consent\": %w", ErrHeaderMismatch, err)
		}
	}
	if (got == nil) != (want == nil) || (got != nil && *got != *want) {
		return fmt.Errorf("%w: field \"consent\" is %+v, the signed entry says %+v", ErrHeaderMismatch, got, want)
	}
	return nil
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
	SentEntryHash proof.Hash       `json:"sent_entry_hash"` // SHA-256 of the sender's entry (MarshalBinary)
	ReceivedEntry []byte           `json:"received_entry"`  // receiver's entry, MarshalBinary
	ReceiverKey   []byte           `json:"receiver_key"`
	Signature     []byte           `json:"signature"`
	Batch         proof.BatchProof `json:"batch"`
}

const countersignDomain = "wardgate/relay/countersign/v1\x00"

// csBatchDomain separates countersignature batch roots from entry batches.
const csBatchDomain = "countersign/v1\x00"

// MaxCountersign bounds a countersignature on the wire.
const MaxCountersign = 8 << 10

func (c *Countersign) signedBytes() []byte {
	b := make([]byte, 0, len(countersignDomain)+32+len(c.ReceivedEntry))
	b = append(b, countersignDomain...)
	b = append(b, c.SentEntryHash[:]...)
	return append(b, c.ReceivedEntry...)
}

func Sign(s proof.Signer, sentRaw []byte, recv *proof.Entry) (*Countersign, error) {
	cs, err := SignAll(s, [][]byte{sentRaw}, []*proof.Entry{recv})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// SignAll countersigns many records with one signature per
// ledger.MaxBatchSign of them.
func SignAll(s proof.Signer, sentRaws [][]byte, recvs []*proof.Entry) ([]*Countersign, error) {
	out := make([]*Countersign, len(recvs))
	for lo := 0; lo < len(recvs); lo += proof.MaxBatchSign {
		hi := min(lo+proof.MaxBatchSign, len(recvs))
		leaves := make([][32]byte, hi-lo)
		for i := lo; i < hi; i++ {
			raw, err := recvs[i].MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("relay: encoding received entry: %w", err)
			}
			out[i] = &Countersign{SentEntryHash: sha256.Sum256(sentRaws[i]), ReceivedEntry: raw, ReceiverKey: s.Public()}
			leaves[i-lo] = proof.BatchLeaf(out[i].signedBytes())
		}
		sig, proofs, err := proof.SignBatch(s, csBatchDomain, leaves)
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
	return c.Check(receiverKey, sentRaw, true, nil)
}

// check verifies the countersignature; full also verifies the received
// entry's own signature (which the countersignature covers byte for byte).
// A cache makes the rest of a batch cost only its path hashes.
func (c *Countersign) Check(receiverKey ed25519.PublicKey, sentRaw []byte, full bool, cache *proof.SigCache) error {
	if len(receiverKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: receiver key is %d bytes", ErrBadCountersign, len(receiverKey))
	}
	if !bytes.Equal(c.ReceiverKey, receiverKey) {
		return fmt.Errorf("%w: signed by key %x, the receiver's attested record key is %x", ErrBadCountersign, c.ReceiverKey, []byte(receiverKey))
	}
	if sha256.Sum256(sentRaw) != c.SentEntryHash {
		return fmt.Errorf("%w: acknowledges another sent entry", ErrBadCountersign)
	}
	var sent, recv proof.Entry
	if err := sent.UnmarshalBinary(sentRaw); err != nil {
		return fmt.Errorf("%w: sent entry: %w", ErrBadCountersign, err)
	}
	if err := recv.UnmarshalBinary(c.ReceivedEntry); err != nil {
		return fmt.Errorf("%w: received entry: %w", ErrBadCountersign, err)
	}
	if recv.Kind != proof.KindReceived || recv.Digest != sent.Digest || recv.Sender != sent.Sender ||
		recv.Receiver != sent.Receiver || recv.Log != sent.Receiver {
		return fmt.Errorf("%w: received entry (%s %x %s->%s in log %q) does not match the sent entry (%x %s->%s)",
			ErrBadCountersign, recv.Kind, recv.Digest[:6], recv.Sender, recv.Receiver, recv.Log, sent.Digest[:6], sent.Sender, sent.Receiver)
	}
	if full {
		if err := recv.VerifySignatureCached(receiverKey, cache); err != nil {
			return fmt.Errorf("%w: received entry: %w", ErrBadCountersign, err)
		}
	}
	if err := proof.VerifyBatch(receiverKey, csBatchDomain, c.signedBytes(), c.Batch, c.Signature, cache); err != nil {
		return fmt.Errorf("%w: signature does not verify: %w", ErrBadCountersign, err)
	}
	return nil
}

// appendBinary is the countersignature's form on the peer batch protocol:
// sent entry hash, received entry (u16 length), receiver key, batch proof,
// signature.
func (c *Countersign) AppendBinary(b []byte) []byte {
	b = append(b, c.SentEntryHash[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.ReceivedEntry)))
	b = append(b, c.ReceivedEntry...)
	b = append(b, c.ReceiverKey...)
	b = proof.AppendBatchProof(b, c.Batch)
	return append(b, c.Signature...)
}

// ParseCountersignBinary decodes what appendBinary wrote and returns the rest.
func ParseCountersignBinary(b []byte) (*Countersign, []byte, error) {
	var c Countersign
	if len(b) < 32+2 {
		return nil, nil, fmt.Errorf("%w: truncated", ErrBadCountersign)
	}
	copy(c.SentEntryHash[:], b)
	n := int(binary.BigEndian.Uint16(b[32:]))
	b = b[34:]
	if n > MaxEntryRaw || len(b) < n+ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("%w: received entry of %d bytes (limit %d) in %d", ErrBadCountersign, n, MaxEntryRaw, len(b))
	}
	c.ReceivedEntry = append([]byte(nil), b[:n]...)
	c.ReceiverKey = append([]byte(nil), b[n:n+ed25519.PublicKeySize]...)
	p, rest, err := proof.ParseBatchProof(b[n+ed25519.PublicKeySize:])
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
	if len(b) > MaxCountersign {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadCountersign, len(b), MaxCountersign)
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
func VerifyReceipt(ctx context.Context, rc *Receipt, senderKey, receiverKey ed25519.PublicKey, o proof.VerifyOptions) (*proof.Result, error) {
	if rc.Ledger == nil {
		return nil, fmt.Errorf("%w: receipt has no ledger part", proof.ErrMalformedReceipt)
	}
	o.RecordKey = senderKey
	res, err := proof.Verify(ctx, rc.Ledger, o)
	if err != nil {
		return nil, err
	}
	if res.Entry.Digest != [32]byte(rc.Digest) {
		return nil, fmt.Errorf("%w: receipt digest %x, ledger entry digest %x", proof.ErrDigestMismatch, rc.Digest[:], res.Entry.Digest[:])
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

// MaxReceiptSize bounds a relay receipt file: a ledger receipt plus a countersignature.
const MaxReceiptSize = proof.MaxReceiptSize + MaxCountersign + 4<<10

// ParseReceipt decodes a relay receipt (what POST /v1/records and GET
// /v1/receipts return), checking its shape, not its truth: call
// VerifyReceipt for that. A plain ledger receipt is accepted too, for
// tools that take either.
func ParseReceipt(b []byte) (*Receipt, error) {
	if len(b) > MaxReceiptSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", proof.ErrReceiptTooLarge, len(b), MaxReceiptSize)
	}
	var raw struct {
		Version     int             `json:"version"`
		Digest      *proof.Hash     `json:"digest"`
		Kind        string          `json:"kind"`
		Sender      string          `json:"sender"`
		Receiver    string          `json:"receiver"`
		ContentType string          `json:"content_type"`
		Status      string          `json:"status"`
		Ledger      json.RawMessage `json:"ledger"`
		Countersign json.RawMessage `json:"countersign"`
		Delivery    string          `json:"delivery"`
		DeliveryErr string          `json:"delivery_error"`
		Consent     json.RawMessage `json:"consent"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", proof.ErrMalformedReceipt, err)
	}
	if raw.Ledger == nil {
		// Not a relay receipt: maybe a bare ledger receipt.
		lr, err := proof.ParseReceipt(b)
		if err != nil {
			return nil, err
		}
		return New(lr, nil)
	}
	lr, err := proof.ParseReceipt(raw.Ledger)
	if err != nil {
		return nil, fmt.Errorf("ledger part: %w", err)
	}
	rc, err := New(lr, nil)
	if err != nil {
		return nil, err
	}
	if raw.Digest == nil {
		return nil, fmt.Errorf("%w: field \"digest\" is missing", ErrHeaderMismatch)
	}
	got := Receipt{Digest: *raw.Digest, Kind: raw.Kind, Sender: raw.Sender, Receiver: raw.Receiver, ContentType: raw.ContentType, Status: raw.Status}
	if err := checkHeader(&got, rc); err != nil {
		return nil, err
	}
	if len(raw.Countersign) > 0 && string(raw.Countersign) != "null" {
		if rc.Countersign, err = ParseCountersign(raw.Countersign); err != nil {
			return nil, err
		}
	}
	rc.Delivery, rc.DeliveryError = raw.Delivery, raw.DeliveryErr
	if err := checkConsent(raw.Consent, rc.Consent); err != nil {
		return nil, err
	}
	if err := checkDelivery(rc); err != nil {
		return nil, err
	}
	return rc, nil
}

// ErrHeaderMismatch: a receipt's top-level field says something the signed
// entry (or the countersignature) does not: the header was edited.
var ErrHeaderMismatch = errors.New("receipt: header disagrees with the signed entry")

// checkHeader compares each top-level field of a receipt as read (got)
// with the one derived from its signed ledger entry (want), and names the
// first that differs.
func checkHeader(got, want *Receipt) error {
	for _, f := range []struct{ name, got, want string }{
		{"digest", got.Digest.String(), want.Digest.String()},
		{"kind", got.Kind, want.Kind},
		{"sender", got.Sender, want.Sender},
		{"receiver", got.Receiver, want.Receiver},
		{"content_type", got.ContentType, want.ContentType},
		{"status", got.Status, want.Status},
	} {
		if f.got != f.want {
			return fmt.Errorf("%w: field %q is %q, the signed entry says %q", ErrHeaderMismatch, f.name, f.got, f.want)
		}
	}
	return nil
}

// checkDelivery ties the delivery field to what is signed: "countersigned"
// exactly when a countersignature is present, and a delivery_error only
// with a delivery that did not get one.
func checkDelivery(rc *Receipt) error {
	switch rc.Delivery {
	case DeliveryCountersigned:
		if rc.Countersign == nil {
			return fmt.Errorf("%w: field \"delivery\" is %q but the receipt has no countersignature", ErrHeaderMismatch, rc.Delivery)
		}
	case "", DeliveryNotReceived, DeliveryUnknown:
		if rc.Countersign != nil {
			return fmt.Errorf("%w: field \"delivery\" is %q but the receipt carries a countersignature", ErrHeaderMismatch, rc.Delivery)
		}
	default:
		return fmt.Errorf("%w: field \"delivery\" is %q; it must be %s, %s or %s", ErrHeaderMismatch, rc.Delivery, DeliveryCountersigned, DeliveryNotReceived, DeliveryUnknown)
	}
	if rc.DeliveryError != "" && rc.Delivery != DeliveryUnknown && rc.Delivery != DeliveryNotReceived {
		return fmt.Errorf("%w: field \"delivery_error\" is set but delivery is %q", ErrHeaderMismatch, rc.Delivery)
	}
	return nil
}

func New(lr *proof.Receipt, cs *Countersign) (*Receipt, error) {
	e, err := lr.ParsedEntry()
	if err != nil {
		return nil, err
	}
	rc := &Receipt{Version: 1, Digest: proof.Hash(e.Digest), Kind: e.Kind.String(), Sender: e.Sender, Receiver: e.Receiver,
		ContentType: e.ContentType, Status: lr.Status, Ledger: lr, Countersign: cs, Consent: consentOf(e)}
	if cs != nil {
		rc.Delivery = DeliveryCountersigned
	}
	return rc, nil
}

// ErrBadCountersign: a countersignature does not verify, or does not
// acknowledge the sent entry it is presented with.
var ErrBadCountersign = errors.New("receipt: bad countersignature")

// MaxEntryRaw bounds a signed entry on the wire.
const MaxEntryRaw = 2048
