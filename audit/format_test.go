package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/audit/audittest"
	"github.com/wardgate/wardgate/internal/testutil"
)

// TestSyslogRoundTrip: each kind formats as RFC 5424 with the ATNA
// header values, frames, reads back and parses with its codes.
func TestSyslogRoundTrip(t *testing.T) {
	h := Header{Hostname: "box a", AppName: "wardgated", ProcID: 42}
	var stream bytes.Buffer
	for _, e := range everyKind() {
		e.Box, e.Time = "hospital-a", time.Date(2026, 12, 3, 7, 0, 0, 123456000, time.UTC)
		msg, err := FormatSyslog(h, e)
		if err != nil {
			t.Fatal(err)
		}
		stream.Write(Frame(msg))
	}
	r := bufio.NewReader(&stream)
	for _, k := range Kinds() {
		f, err := ReadFrame(r)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		s, err := ParseSyslog(f)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if s.Pri != priATNA || s.Hostname != "box_a" || s.MsgID != msgIDIHE || s.ProcID != "42" || !s.Time.Equal(time.Date(2026, 12, 3, 7, 0, 0, 123456000, time.UTC)) {
			t.Fatalf("%s header: %+v", k, s)
		}
		m, err := ParseATNA(s.Msg)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if kindOf(m) != k {
			t.Fatalf("message %d is %s, want %s", 0, kindOf(m), k)
		}
	}
}

// TestATNARecordByDigestOnly: a record event names the record by its
// digest, typed as such, and the failure's code only.
func TestATNARecordByDigestOnly(t *testing.T) {
	d := sha256.Sum256([]byte("record"))
	m, err := ATNA(Event{Kind: RecordRefused, Box: "a", Peer: "b", Digest: d, Outcome: MinorFailure, Code: "not-admitted", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ParticipantObj) != 1 || m.ParticipantObj[0].ID != "sha256:"+DigestHex(d) || m.ParticipantObj[0].IDType.Code != "record-sha256" {
		t.Fatalf("objects: %+v", m.ParticipantObj)
	}
	if m.Event.Outcome != "4" || m.Event.OutcomeDescription != "not-admitted" || m.Event.EventID.Code != "110106" {
		t.Fatalf("event: %+v", m.Event)
	}
	if _, err := ATNA(Event{Kind: "nonsense"}); err == nil {
		t.Fatal("an unknown kind formatted")
	}
}

// DigestHex is a test helper: d as hex.
func DigestHex(d [32]byte) string { return Event{Digest: d}.DigestHex() }

// TestFHIRAuditEvent: the FHIR form carries R4's required elements and
// the same codes as the ATNA message; ids are stable.
func TestFHIRAuditEvent(t *testing.T) {
	var evs []Event
	for _, e := range everyKind() {
		e.Box, e.Time = "hospital-a", time.Now()
		evs = append(evs, e)
	}
	b := FHIRBundle(evs)
	if b.ResourceType != "Bundle" || b.Type != "searchset" || b.Total != len(Kinds()) {
		t.Fatalf("bundle: %s %s %d", b.ResourceType, b.Type, b.Total)
	}
	for i, en := range b.Entry {
		r := en.Resource
		if r.ResourceType != "AuditEvent" || r.Type.System != dcmSystemURI || r.Recorded == "" || len(r.Agent) == 0 || r.Source.Observer.Display != "hospital-a" {
			t.Fatalf("entry %d lacks an R4 required element: %+v", i, r)
		}
		if r.Subtype[1].Code != string(evs[i].Kind) || "urn:uuid:"+r.ID != en.FullURL {
			t.Fatalf("entry %d: subtype %v id %s url %s", i, r.Subtype, r.ID, en.FullURL)
		}
	}
	again := FHIRBundle(evs)
	if again.Entry[0].Resource.ID != b.Entry[0].Resource.ID {
		t.Fatal("the same event got two ids")
	}
	if _, err := json.Marshal(b); err != nil {
		t.Fatal(err)
	}
}

// TestRingKeepsTheNewest: the ring holds the last Retain events, and
// Since filters by time and limit, oldest first.
func TestRingKeepsTheNewest(t *testing.T) {
	l, err := New(Config{Box: "a", Retain: 5})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 8 {
		l.Emit(Event{Kind: RecordSent, Time: t0.Add(time.Duration(i) * time.Second)})
	}
	got := l.Since(time.Time{}, 100)
	if len(got) != 5 || !got[0].Time.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("ring kept %d, first at %v; want the last 5 from +3s", len(got), got[0].Time)
	}
	if got := l.Since(t0.Add(6*time.Second), 1); len(got) != 1 || !got[0].Time.Equal(t0.Add(6*time.Second)) {
		t.Fatalf("since +6s limit 1: %+v", got)
	}
	var nilLog *Log
	nilLog.Emit(Event{Kind: RecordSent}) // hooks need no checks
}

// TestSyslogRefusesUnknownReceiver: a receiver whose certificate does not
// chain to audit.syslog.ca gets nothing: the sender's TLS verifies it.
func TestSyslogRefusesUnknownReceiver(t *testing.T) {
	dir := t.TempDir()
	audittest.WriteTestPKI(t, dir) // the receiver's CA and certificate
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	otherCA := audittest.WriteTestPKI(t, t.TempDir())
	tc, err := TLSConfig(otherCA, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(SyslogConfig{Address: ln.Addr().String(), TLS: tc}, "a", testutil.QuietLogger(), nil, &stats{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.dial(ctx)
	if err == nil {
		c.Close()
		t.Fatal("the sender connected to a receiver whose certificate is from another CA")
	}
	if ua := (x509.UnknownAuthorityError{}); !errors.As(err, &ua) && !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("dial error %v; want the certificate refused as from an unknown authority", err)
	}
}

// TestConfigErrors: New refuses a syslog without TLS.
func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{Box: "a", Syslog: &SyslogConfig{Address: "127.0.0.1:6514"}}); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("syslog without TLS: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("no box name accepted")
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("5 hello"))
	f.Add([]byte("0 "))
	f.Add([]byte("99999999999 x"))
	f.Add([]byte("12 <85>1 - - -"))
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := ReadFrame(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && len(msg) > MaxFrame {
			t.Fatalf("frame of %d bytes over the limit", len(msg))
		}
	})
}

func FuzzParseSyslog(f *testing.F) {
	msg, _ := FormatSyslog(Header{Hostname: "h", AppName: "wardgated", ProcID: 1}, Event{Kind: RecordSent, Box: "a", Time: time.Now()})
	f.Add(msg)
	f.Add([]byte("<85>1 2026-12-03T07:00:00Z h app - - [x a=\"b\"] msg"))
	f.Add([]byte("<999>1 x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSyslog(b)
		if err != nil {
			return
		}
		ParseATNA(s.Msg)
	})
}
