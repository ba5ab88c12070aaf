package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/wardgate/wardgate/internal/names"
)

// Type is what a frame carries.
type Type uint8

// Frame types. A packet is one WireGuard datagram; the other four make up
// the multiplexed byte streams the attestation protocol runs over.
const (
	TypePacket Type = 1 // one WireGuard datagram
	TypeOpen   Type = 2 // open stream ID to the box
	TypeData   Type = 3 // bytes of stream ID
	TypeClose  Type = 4 // end of stream ID (payload: an optional reason)
	TypeWindow Type = 5 // the receiver read 4-byte-big-endian more bytes of stream ID
)

func (t Type) valid() bool { return t >= TypePacket && t <= TypeWindow }

func (t Type) String() string {
	switch t {
	case TypePacket:
		return "packet"
	case TypeOpen:
		return "open"
	case TypeData:
		return "data"
	case TypeClose:
		return "close"
	case TypeWindow:
		return "window"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Bounds of a frame. A WireGuard packet on a 9000-byte MTU fits in
// MaxPayload; stream data is cut to it.
const (
	MaxPayload = 16 << 10
	// headerLen is type, name length, stream id.
	headerLen = 1 + 1 + 4
	// MaxFrame is the longest frame body after its 4-byte length.
	MaxFrame = headerLen + names.MaxLen + MaxPayload
)

// Frame is one unit on a relay connection. Box is the destination on the
// way to the relay, and the (authenticated) source on the way out of it.
type Frame struct {
	Type    Type
	Box     string
	Stream  uint32
	Payload []byte
}

// ErrFrame is wrapped by every malformed-frame error.
var ErrFrame = errors.New("relay: malformed frame")

// AppendFrame appends f's encoding to b: a 4-byte big-endian length, then
// type, box name length, box name, stream id and payload.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	if err := f.check(); err != nil {
		return b, err
	}
	n := headerLen + len(f.Box) + len(f.Payload)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, byte(f.Type), byte(len(f.Box)))
	b = append(b, f.Box...)
	b = binary.BigEndian.AppendUint32(b, f.Stream)
	return append(b, f.Payload...), nil
}

func (f Frame) check() error {
	if !f.Type.valid() {
		return fmt.Errorf("%w: unknown type %d", ErrFrame, f.Type)
	}
	if err := names.Check(f.Box); err != nil {
		return fmt.Errorf("%w: box: %w", ErrFrame, err)
	}
	if len(f.Payload) > MaxPayload {
		return fmt.Errorf("%w: payload of %d bytes, more than %d", ErrFrame, len(f.Payload), MaxPayload)
	}
	if f.Type == TypeWindow && len(f.Payload) != 4 {
		return fmt.Errorf("%w: window frame payload is %d bytes, want 4", ErrFrame, len(f.Payload))
	}
	return nil
}

// ReadFrame reads one frame from r into buf (which it may grow to at most
// MaxFrame bytes and returns for reuse). The frame's payload aliases buf.
func ReadFrame(r io.Reader, buf []byte) (Frame, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < headerLen || n > MaxFrame {
		return Frame{}, buf, fmt.Errorf("%w: length %d outside %d-%d", ErrFrame, n, headerLen, MaxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n, MaxFrame)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return Frame{}, buf, fmt.Errorf("%w: truncated: %w", ErrFrame, io.ErrUnexpectedEOF)
	}
	f, err := ParseFrame(buf)
	return f, buf, err
}

// ParseFrame parses one frame body (after its length). The payload
// aliases body.
func ParseFrame(body []byte) (Frame, error) {
	if len(body) < headerLen {
		return Frame{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrFrame, len(body), headerLen)
	}
	f := Frame{Type: Type(body[0])}
	nl := int(body[1])
	if len(body) < headerLen+nl {
		return Frame{}, fmt.Errorf("%w: box name of %d bytes overruns the frame", ErrFrame, nl)
	}
	f.Box = string(body[2 : 2+nl])
	f.Stream = binary.BigEndian.Uint32(body[2+nl:])
	f.Payload = body[headerLen+nl:]
	if err := f.check(); err != nil {
		return Frame{}, err
	}
	return f, nil
}
