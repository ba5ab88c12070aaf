package audit

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/audit/audittest"
)

// rsyslogTLS is the sender's config for r: its test CA, the server name
// from the address.
func rsyslogTLS(t testing.TB, r *audittest.Rsyslog) *tls.Config {
	tc, err := TLSConfig(r.CAFile, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// received parses every line rsyslogd wrote as RFC 5424 with an ATNA
// AuditMessage, failing the test on any that does not parse.
func received(t testing.TB, lines []string) []*Message {
	t.Helper()
	var out []*Message
	for i, l := range lines {
		s, err := ParseSyslog([]byte(l))
		if err != nil {
			t.Fatalf("line %d is not RFC 5424 (%v): %.200q", i, err, l)
		}
		if s.Pri != priATNA || s.MsgID != msgIDIHE || s.AppName != "wardgated" {
			t.Fatalf("line %d header: pri %d msgid %q app %q; want %d %q wardgated", i, s.Pri, s.MsgID, s.AppName, priATNA, msgIDIHE)
		}
		m, err := ParseATNA(s.Msg)
		if err != nil {
			t.Fatalf("line %d: %v: %.300q", i, err, s.Msg)
		}
		out = append(out, m)
	}
	return out
}

// kindOf is the wardgate event type code of a received message.
func kindOf(m *Message) Kind {
	for _, c := range m.Event.TypeCodes {
		if c.System == wardgateCodes {
			return Kind(c.Code)
		}
	}
	return ""
}

func objectOf(m *Message) string {
	var ids []string
	for _, o := range m.ParticipantObj {
		ids = append(ids, o.ID)
	}
	return strings.Join(ids, ",")
}
