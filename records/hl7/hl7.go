// Package hl7 is HL7 v2 over MLLP at the byte level: framing (ReadFrame,
// WriteFrame), MSH parsing and ACKs (BuildAck, ParseAck). It holds no
// server and no relay state, so a fuzzer and the CLI can use it alone.
package hl7

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MLLP framing: <VT> message <FS><CR>.
const (
	mllpStart = 0x0B
	mllpEnd   = 0x1C
	mllpCR    = 0x0D
)

// HL7ContentType is the content type journaled for HL7 v2 messages received over MLLP.
const HL7ContentType = "application/hl7-v2"

var (
	// ErrBadFrame: the bytes on an MLLP connection are not <VT>...<FS><CR>.
	ErrBadFrame = errors.New("hl7: malformed MLLP frame")
	// ErrFrameTooLarge: an MLLP frame is over the size limit.
	ErrFrameTooLarge = errors.New("hl7: MLLP frame too large")
	// ErrBadHL7: the frame does not hold a parseable HL7 v2 message.
	ErrBadHL7 = errors.New("hl7: malformed HL7 v2 message")
	// ErrUnframeable: a body holds an MLLP framing byte (0x0B or 0x1C),
	// so written into a frame it would end the frame early and smuggle
	// whatever follows to the engine as messages of their own.
	ErrUnframeable = errors.New("hl7: body holds an MLLP framing byte")
	// ErrAckMismatch: an ACK does not acknowledge the message just sent
	// (MSA-2 is not its MSH-10).
	ErrAckMismatch = errors.New("hl7: ACK does not acknowledge the message sent")
)

// CheckFrameable parses body as an HL7 v2 message that can be sent as one
// MLLP frame: no 0x0B or 0x1C byte anywhere, and a valid MSH. It returns
// the MSH, whose MSH-10 the ACK must echo. A body with a framing byte
// gets ErrUnframeable and, if its header parses, the MSH too, so that the
// refusal can still name the message.
func CheckFrameable(body []byte) (*MSH, error) {
	if i := bytes.IndexAny(body, "\x0b\x1c"); i >= 0 {
		m, _ := ParseMSH(body[:bytes.IndexAny(body, "\r\n\x0b\x1c")+1])
		return m, fmt.Errorf("%w: byte 0x%02x at offset %d; HL7 v2 text never holds 0x0B or 0x1C", ErrUnframeable, body[i], i)
	}
	return ParseMSH(body)
}

// MatchAck parses ack and checks that it acknowledges sent (MSA-2 equals
// the sent MSH-10). A mismatch means the connection is out of step (an
// extra or lost ACK) and must not be used again.
func MatchAck(sent *MSH, ack []byte) (*Ack, error) {
	a, err := ParseAck(ack)
	if err != nil {
		return nil, err
	}
	if a.ControlID != sent.ControlID {
		return nil, fmt.Errorf("%w: MSA-2 %q, sent MSH-10 %q", ErrAckMismatch, trunc(a.ControlID, 32), trunc(sent.ControlID, 32))
	}
	return a, nil
}

// ReadFrame reads one MLLP frame of at most max bytes of payload. It skips
// CR/LF between frames, and returns io.EOF on a clean close between frames.
func ReadFrame(rd *bufio.Reader, max int64) ([]byte, error) {
	for {
		c, err := rd.ReadByte()
		if err != nil {
			return nil, err // io.EOF between frames is a clean close
		}
		if c == '\r' || c == '\n' {
			continue
		}
		if c != mllpStart {
			return nil, fmt.Errorf("%w: frame starts with byte 0x%02x, want 0x0B (VT)", ErrBadFrame, c)
		}
		break
	}
	var msg []byte
	for {
		chunk, err := rd.ReadSlice(mllpEnd)
		if int64(len(msg)+len(chunk)) > max+1 {
			return nil, fmt.Errorf("%w: over %d bytes without an end marker (0x1C 0x0D)", ErrFrameTooLarge, max)
		}
		msg = append(msg, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: connection ended inside a frame: %w", ErrBadFrame, err)
		}
		break
	}
	msg = msg[:len(msg)-1] // drop FS
	c, err := rd.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("%w: missing CR after 0x1C: %w", ErrBadFrame, err)
	}
	if c != mllpCR {
		return nil, fmt.Errorf("%w: byte 0x%02x after 0x1C, want 0x0D (CR)", ErrBadFrame, c)
	}
	if len(msg) == 0 {
		return nil, fmt.Errorf("%w: empty frame", ErrBadFrame)
	}
	return msg, nil
}

// WriteFrame writes msg as one MLLP frame.
func WriteFrame(w io.Writer, msg []byte) error {
	b := make([]byte, 0, len(msg)+3)
	b = append(b, mllpStart)
	b = append(b, msg...)
	b = append(b, mllpEnd, mllpCR)
	_, err := w.Write(b)
	return err
}

// MSH is the part of an HL7 v2 message header the relay needs to route a
// message and build its ACK.
type MSH struct {
	FieldSep          byte
	Encoding          string // MSH-2: component, repetition, escape, subcomponent
	SendingApp        string // MSH-3
	SendingFacility   string // MSH-4
	ReceivingApp      string // MSH-5
	ReceivingFacility string // MSH-6
	MessageType       string // MSH-9, e.g. ADT^A01^ADT_A01
	ControlID         string // MSH-10
	ProcessingID      string // MSH-11
	Version           string // MSH-12
}

// maxHL7Field bounds the MSH fields echoed into an ACK.
const maxHL7Field = 199

// ParseMSH parses the MSH segment of an HL7 v2 message (ER7 encoding).
func ParseMSH(msg []byte) (*MSH, error) {
	if len(msg) < 8 || string(msg[:3]) != "MSH" {
		return nil, fmt.Errorf("%w: message must start with an MSH segment", ErrBadHL7)
	}
	m := &MSH{FieldSep: msg[3]}
	if !isDelim(m.FieldSep) {
		return nil, fmt.Errorf("%w: MSH-1 field separator %q is not a printable delimiter (usually |)", ErrBadHL7, m.FieldSep)
	}
	seg := msg
	if i := bytes.IndexAny(msg, "\r\n"); i >= 0 {
		seg = msg[:i]
	}
	fields := strings.Split(string(seg), string([]byte{m.FieldSep}))
	if len(fields) < 2 {
		return nil, fmt.Errorf("%w: MSH segment has no MSH-2 (encoding characters)", ErrBadHL7)
	}
	m.Encoding = fields[1]
	if n := len(m.Encoding); n < 2 || n > 5 {
		return nil, fmt.Errorf("%w: MSH-2 encoding characters %q must be 2 to 5 characters (usually ^~\\&)", ErrBadHL7, m.Encoding)
	}
	for i := 0; i < len(m.Encoding); i++ {
		c := m.Encoding[i]
		if c == m.FieldSep || !isDelim(c) || strings.IndexByte(m.Encoding[:i], c) >= 0 {
			return nil, fmt.Errorf("%w: MSH-2 encoding characters %q repeat a character or use a letter", ErrBadHL7, m.Encoding)
		}
	}
	get := func(n int) string { // MSH-n is fields[n-1]
		if n-1 < len(fields) {
			return fields[n-1]
		}
		return ""
	}
	m.SendingApp, m.SendingFacility, m.ReceivingApp, m.ReceivingFacility = get(3), get(4), get(5), get(6)
	m.MessageType, m.ControlID, m.ProcessingID, m.Version = get(9), get(10), get(11), get(12)
	for _, f := range []struct{ name, v string }{{"MSH-3", m.SendingApp}, {"MSH-4", m.SendingFacility}, {"MSH-5", m.ReceivingApp},
		{"MSH-6", m.ReceivingFacility}, {"MSH-9", m.MessageType}, {"MSH-10", m.ControlID}, {"MSH-11", m.ProcessingID}, {"MSH-12", m.Version}} {
		if len(f.v) > maxHL7Field {
			return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrBadHL7, f.name, len(f.v), maxHL7Field)
		}
	}
	if m.MessageType == "" {
		return nil, fmt.Errorf("%w: MSH-9 (message type) is empty", ErrBadHL7)
	}
	if m.ControlID == "" {
		return nil, fmt.Errorf("%w: MSH-10 (message control ID) is empty", ErrBadHL7)
	}
	// Every further segment must start with a three-character segment ID.
	// The error names the segment by position only: segments hold patient data.
	for i, s := range bytes.FieldsFunc(msg, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if len(s) < 3 || !isAlnum(s[0]) || !isAlnum(s[1]) || !isAlnum(s[2]) || (len(s) > 3 && s[3] != m.FieldSep) {
			return nil, fmt.Errorf("%w: segment %d does not start with a three-character segment ID and the field separator (segments end with CR)", ErrBadHL7, i+1)
		}
	}
	return m, nil
}

// isDelim: HL7 delimiters are printable ASCII punctuation.
func isDelim(c byte) bool { return c > ' ' && c < 0x7f && !isAlnum(c) }

func isAlnum(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (m *MSH) Component() byte { return m.Encoding[0] }

// escape makes text safe inside one HL7 field.
func (m *MSH) escape(text string) string {
	text = trunc(text, 180)
	esc := byte('\\')
	if len(m.Encoding) >= 3 {
		esc = m.Encoding[2]
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == esc:
			b.Write([]byte{esc, 'E', esc})
		case c == m.FieldSep:
			b.Write([]byte{esc, 'F', esc})
		case c == m.Encoding[0]:
			b.Write([]byte{esc, 'S', esc})
		case c == m.Encoding[1]:
			b.Write([]byte{esc, 'R', esc})
		case len(m.Encoding) >= 4 && c == m.Encoding[3]:
			b.Write([]byte{esc, 'T', esc})
		case c == '\r' || c == '\n' || c < 0x20:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// defaultMSH is used to answer a message whose own MSH cannot be parsed.
var defaultMSH = MSH{FieldSep: '|', Encoding: `^~\&`, MessageType: "ACK", ProcessingID: "P", Version: "2.5"}

// BuildAck builds an HL7 ACK for m: code "AA" (accepted) or "AE" (error,
// with text in MSA-3 and an ERR segment).
func BuildAck(m *MSH, code, text string, now time.Time) []byte {
	if m == nil {
		m = &defaultMSH
	}
	f := string([]byte{m.FieldSep})
	trigger := ""
	comp := string([]byte{m.Component()})
	if parts := strings.Split(m.MessageType, comp); len(parts) > 1 {
		trigger = trunc(parts[1], 16)
	}
	typ := "ACK"
	if trigger != "" {
		typ = "ACK" + comp + trigger + comp + "ACK"
	}
	proc, ver := m.ProcessingID, m.Version
	if proc == "" {
		proc = "P"
	}
	if ver == "" {
		ver = "2.5"
	}
	var b strings.Builder
	b.WriteString("MSH" + f + m.Encoding + f + m.ReceivingApp + f + m.ReceivingFacility + f + m.SendingApp + f + m.SendingFacility + f +
		now.UTC().Format("20060102150405") + f + f + typ + f + "ACK" + trunc(m.ControlID, 16) + f + proc + f + ver + "\r")
	b.WriteString("MSA" + f + code + f + m.ControlID)
	if text != "" {
		b.WriteString(f + m.escape(text))
	}
	b.WriteString("\r")
	if code != "AA" && code != "CA" {
		b.WriteString("ERR" + f + f + f + "207" + comp + "Application internal error" + comp + "HL70357" + f + f + "E" + f + f + f + m.escape(text) + "\r")
	}
	return []byte(b.String())
}

// Ack is a parsed HL7 acknowledgement.
type Ack struct {
	Code      string // MSA-1: AA, AE, AR (or CA, CE, CR)
	ControlID string // MSA-2
	Text      string // MSA-3
}

// ParseAck parses an HL7 ACK message.
func ParseAck(msg []byte) (*Ack, error) {
	m, err := ParseMSH(msg)
	if err != nil {
		return nil, err
	}
	for _, s := range bytes.FieldsFunc(msg, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if !bytes.HasPrefix(s, []byte("MSA")) {
			continue
		}
		fs := strings.Split(string(s), string([]byte{m.FieldSep}))
		a := &Ack{}
		if len(fs) > 1 {
			a.Code = fs[1]
		}
		if len(fs) > 2 {
			a.ControlID = fs[2]
		}
		if len(fs) > 3 {
			a.Text = fs[3]
		}
		switch a.Code {
		case "AA", "AE", "AR", "CA", "CE", "CR":
			return a, nil
		}
		return nil, fmt.Errorf("%w: MSA-1 acknowledgement code %q is not AA, AE, AR, CA, CE or CR", ErrBadHL7, trunc(a.Code, 10))
	}
	return nil, fmt.Errorf("%w: ACK has no MSA segment", ErrBadHL7)
}
