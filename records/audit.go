package records

import "crypto/sha256"

// RecordEvent is one record's fate for the box's audit trail: the peer and
// the record's digest, never its content.
type RecordEvent struct {
	Kind   RecordEventKind
	Peer   string
	Digest [32]byte
	// Err is why a send was refused (RecordRefused), else nil.
	Err error
}

// RecordEventKind is what happened to a record.
type RecordEventKind int

// The record events the relay reports.
const (
	RecordSent RecordEventKind = iota
	RecordReceived
	RecordRefused
)

// audit hands ev to Config.OnRecord, if set. OnRecord must not block: it
// runs on the record path.
func (r *Relay) audit(kind RecordEventKind, peer string, digest [32]byte, err error) {
	if r.cfg.OnRecord != nil {
		r.cfg.OnRecord(RecordEvent{Kind: kind, Peer: peer, Digest: digest, Err: err})
	}
}

// auditRefused reports a refused send; the digest is computed only when
// someone listens, and only of a body that was read (nil: none).
func (r *Relay) auditRefused(peer string, body []byte, err error) {
	if r.cfg.OnRecord == nil {
		return
	}
	var d [32]byte
	if body != nil {
		d = sha256.Sum256(body)
	}
	r.audit(RecordRefused, peer, d, err)
}
