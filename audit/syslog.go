package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// RFC 5424 header values for ATNA: facility authpriv (10), severity notice
// (5), and the MSGID that IHE ITI-20 gives audit messages.
const (
	priATNA  = 10*8 + 5
	msgIDIHE = "IHE+RFC-3881"
	// bom starts an RFC 5424 MSG that is UTF-8.
	bom = "\xEF\xBB\xBF"
	// MaxFrame bounds one framed message, sent or read: an AuditMessage
	// of names and digests is far below it.
	MaxFrame = 64 << 10
)

// Header is the RFC 5424 header fields a sender fills.
type Header struct {
	Hostname, AppName string
	ProcID            int
}

// FormatSyslog is e as one RFC 5424 message with the ATNA XML as MSG.
func FormatSyslog(h Header, e Event) ([]byte, error) {
	x, err := MarshalATNA(e)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%d>1 %s %s %s %d %s - %s", priATNA,
		e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		headerField(h.Hostname, 255), headerField(h.AppName, 48), h.ProcID, msgIDIHE, bom)
	b.Write(x)
	return b.Bytes(), nil
}

// headerField keeps an RFC 5424 header field to printable US-ASCII
// without spaces, at most max bytes; empty is the NILVALUE "-".
func headerField(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return '_'
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	if s == "" {
		return "-"
	}
	return s
}

// Frame is msg in RFC 5425 octet-counting framing: "LEN SP MSG".
func Frame(msg []byte) []byte {
	return append(strconv.AppendInt(nil, int64(len(msg)), 10), append([]byte{' '}, msg...)...)
}

// ErrFrame is a malformed RFC 5425 frame.
var ErrFrame = errors.New("audit: malformed syslog frame")

// ReadFrame reads one octet-counted frame, at most MaxFrame bytes of
// message.
func ReadFrame(r *bufio.Reader) ([]byte, error) {
	n := 0
	for digits := 0; ; digits++ {
		c, err := r.ReadByte()
		if err != nil {
			if digits == 0 && errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%w: reading length: %w", ErrFrame, err)
		}
		if c == ' ' && digits > 0 {
			break
		}
		if c < '0' || c > '9' || (digits == 0 && c == '0') {
			return nil, fmt.Errorf("%w: length byte %q is not a digit", ErrFrame, c)
		}
		n = n*10 + int(c-'0')
		if n > MaxFrame {
			return nil, fmt.Errorf("%w: length over %d bytes", ErrFrame, MaxFrame)
		}
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, fmt.Errorf("%w: message of %d bytes: %w", ErrFrame, n, err)
	}
	return msg, nil
}

// Syslog is a parsed RFC 5424 message (the fields the ATNA check needs).
type Syslog struct {
	Pri       int
	Time      time.Time
	Hostname  string
	AppName   string
	ProcID    string
	MsgID     string
	Structure string
	Msg       []byte // the MSG without its BOM
}

// ParseSyslog parses one RFC 5424 message: the header, a NILVALUE or
// bracketed structured data, and the MSG.
func ParseSyslog(b []byte) (*Syslog, error) {
	rest, ok := bytes.CutPrefix(b, []byte("<"))
	if !ok {
		return nil, errors.New("audit: syslog: no <PRI>")
	}
	priS, rest, ok := bytes.Cut(rest, []byte(">1 "))
	pri, err := strconv.Atoi(string(priS))
	if !ok || err != nil || pri < 0 || pri > 191 {
		return nil, errors.New("audit: syslog: bad <PRI>1 version")
	}
	f := bytes.SplitN(rest, []byte(" "), 6)
	if len(f) < 6 {
		return nil, errors.New("audit: syslog: header has fewer than 6 fields after the version")
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return nil, fmt.Errorf("audit: syslog: timestamp: %w", err)
	}
	s := &Syslog{Pri: pri, Time: t, Hostname: string(f[1]), AppName: string(f[2]), ProcID: string(f[3]), MsgID: string(f[4])}
	sd, msg, err := cutStructure(f[5])
	if err != nil {
		return nil, err
	}
	s.Structure = sd
	s.Msg = bytes.TrimPrefix(msg, []byte(bom))
	return s, nil
}

// cutStructure splits STRUCTURED-DATA [SP MSG].
func cutStructure(b []byte) (string, []byte, error) {
	if bytes.HasPrefix(b, []byte("-")) {
		return "-", bytes.TrimPrefix(b[1:], []byte(" ")), nil
	}
	if !bytes.HasPrefix(b, []byte("[")) {
		return "", nil, errors.New("audit: syslog: structured data is neither - nor [...]")
	}
	end := bytes.Index(b, []byte("] "))
	if end < 0 {
		if bytes.HasSuffix(b, []byte("]")) {
			return string(b), nil, nil
		}
		return "", nil, errors.New("audit: syslog: unterminated structured data")
	}
	return string(b[:end+1]), b[end+2:], nil
}
