package receipt

import (
	"strconv"

	"github.com/wardgate/wardgate/ledger/proof"
)

// AppendJSON appends the receipt exactly as json.Marshal writes it (see
// ledger's AppendJSON encoders for why; TestReceiptJSONMatches).
func (rc *Receipt) AppendJSON(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(rc.Version), 10)
	b = append(b, `,"digest":`...)
	b = rc.Digest.AppendJSON(b)
	b = append(b, `,"kind":`...)
	b = proof.AppendJSONString(b, rc.Kind)
	b = append(b, `,"sender":`...)
	b = proof.AppendJSONString(b, rc.Sender)
	b = append(b, `,"receiver":`...)
	b = proof.AppendJSONString(b, rc.Receiver)
	b = append(b, `,"content_type":`...)
	b = proof.AppendJSONString(b, rc.ContentType)
	b = append(b, `,"status":`...)
	b = proof.AppendJSONString(b, rc.Status)
	b = append(b, `,"ledger":`...)
	if rc.Ledger == nil {
		b = append(b, "null"...)
	} else {
		b = rc.Ledger.AppendJSON(b)
	}
	if rc.Countersign != nil {
		b = append(b, `,"countersign":`...)
		b = rc.Countersign.AppendJSON(b)
	}
	if rc.Delivery != "" {
		b = append(b, `,"delivery":`...)
		b = proof.AppendJSONString(b, rc.Delivery)
	}
	if rc.DeliveryError != "" {
		b = append(b, `,"delivery_error":`...)
		b = proof.AppendJSONString(b, rc.DeliveryError)
	}
	if c := rc.Consent; c != nil {
		b = append(b, `,"consent":{"id":`...)
		b = proof.AppendJSONString(b, c.ID)
		b = append(b, `,"version":`...)
		b = proof.AppendJSONString(b, c.Version)
		b = append(b, `,"digest":`...)
		b = c.Digest.AppendJSON(b)
		b = append(b, '}')
	}
	return append(b, '}')
}

// AppendJSON appends the countersignature as json.Marshal writes it.
func (c *Countersign) AppendJSON(b []byte) []byte {
	b = append(b, `{"sent_entry_hash":`...)
	b = c.SentEntryHash.AppendJSON(b)
	b = append(b, `,"received_entry":`...)
	b = proof.AppendJSONBytes(b, c.ReceivedEntry)
	b = append(b, `,"receiver_key":`...)
	b = proof.AppendJSONBytes(b, c.ReceiverKey)
	b = append(b, `,"signature":`...)
	b = proof.AppendJSONBytes(b, c.Signature)
	b = append(b, `,"batch":`...)
	b = c.Batch.AppendJSON(b)
	return append(b, '}')
}
