package relay

import (
	"strconv"

	"github.com/wardgate/wardgate/ledger"
)

// AppendJSON appends the receipt exactly as json.Marshal writes it (see
// ledger's AppendJSON encoders for why; TestReceiptJSONMatches).
func (rc *Receipt) AppendJSON(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(rc.Version), 10)
	b = append(b, `,"digest":`...)
	b = rc.Digest.AppendJSON(b)
	b = append(b, `,"kind":`...)
	b = ledger.AppendJSONString(b, rc.Kind)
	b = append(b, `,"sender":`...)
	b = ledger.AppendJSONString(b, rc.Sender)
	b = append(b, `,"receiver":`...)
	b = ledger.AppendJSONString(b, rc.Receiver)
	b = append(b, `,"content_type":`...)
	b = ledger.AppendJSONString(b, rc.ContentType)
	b = append(b, `,"status":`...)
	b = ledger.AppendJSONString(b, rc.Status)
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
		b = ledger.AppendJSONString(b, rc.Delivery)
	}
	if rc.DeliveryError != "" {
		b = append(b, `,"delivery_error":`...)
		b = ledger.AppendJSONString(b, rc.DeliveryError)
	}
	return append(b, '}')
}

// AppendJSON appends the countersignature as json.Marshal writes it.
func (c *Countersign) AppendJSON(b []byte) []byte {
	b = append(b, `{"sent_entry_hash":`...)
	b = c.SentEntryHash.AppendJSON(b)
	b = append(b, `,"received_entry":`...)
	b = ledger.AppendJSONBytes(b, c.ReceivedEntry)
	b = append(b, `,"receiver_key":`...)
	b = ledger.AppendJSONBytes(b, c.ReceiverKey)
	b = append(b, `,"signature":`...)
	b = ledger.AppendJSONBytes(b, c.Signature)
	b = append(b, `,"batch":`...)
	b = c.Batch.AppendJSON(b)
	return append(b, '}')
}

// appendJSON appends the answer line as json.Marshal writes it.
func (l *bulkLine) appendJSON(b []byte) []byte {
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(l.Line), 10)
	if l.Receipt != nil {
		b = append(b, `,"receipt":`...)
		b = l.Receipt.AppendJSON(b)
	}
	if l.Code != "" {
		b = append(b, `,"code":`...)
		b = ledger.AppendJSONString(b, l.Code)
	}
	if l.Error != "" {
		b = append(b, `,"error":`...)
		b = ledger.AppendJSONString(b, l.Error)
	}
	return append(b, '}')
}
