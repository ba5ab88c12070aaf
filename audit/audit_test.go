package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardgate/wardgate/audit/audittest"
	"github.com/wardgate/wardgate/internal/testutil"
)

// everyKind is one event of each kind, as the gateway's hooks fill them.
func everyKind() []Event {
	var out []Event
	for _, k := range Kinds() {
		e := Event{Kind: k, Peer: "hospital-b", Outcome: Success}
		switch k {
		case RecordSent, RecordReceived, RecordRefused, ConfigLoad:
			e.Digest = sha256.Sum256([]byte("object of " + string(k)))
		case ControlAccess:
			e.Actor, e.Object, e.Peer = "uid:0", "GET /v1/status", ""
		case APIAccess:
			e.Actor, e.Object, e.Peer = "CN=security team", "GET /v1/reports", ""
		default:
			e.Object = "report-" + string(k)
		}
		if k == AttestationFail || k == RecordRefused || k == Quarantine {
			e.Outcome, e.Code = MinorFailure, "reason-code"
		}
		out = append(out, e)
	}
	return out
}

func newTestLog(t *testing.T, r *audittest.Rsyslog, buffer int) *Log {
	t.Helper()
	l, err := New(Config{Box: "hospital-a", Syslog: &SyslogConfig{Address: r.Addr(), TLS: rsyslogTLS(t, r)}, Buffer: buffer, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.Start(ctx)
	t.Cleanup(func() { cancel(); l.Close() })
	return l
}

// TestSyslogEveryEventOverTLS: every event kind reaches a real rsyslog
// over RFC 5425 TLS in the middle of a burst of record events from
// several goroutines, and each message parses as RFC 5424 carrying an
// ATNA AuditMessage with its codes. rsyslog takes TLS only, so a sender
// that stopped using TLS delivers nothing and fails here.
func TestSyslogEveryEventOverTLS(t *testing.T) {
	r := audittest.StartRsyslog(t)
	l := newTestLog(t, r, DefaultBuffer)
	const burst, workers = 1500, 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range burst / workers {
				k := []Kind{RecordSent, RecordReceived, RecordRefused}[i%3]
				l.Emit(Event{Kind: k, Peer: "hospital-b", Digest: sha256.Sum256(fmt.Appendf(nil, "%d/%d", w, i))})
			}
		})
	}
	for _, e := range everyKind() {
		l.Emit(e)
	}
	wg.Wait()
	want := burst + len(Kinds())
	testutil.WaitForWithin(t, time.Minute, fmt.Sprintf("%d messages at rsyslog", want), func() bool { return len(r.Lines()) >= want })
	msgs := received(t, r.Lines())
	if len(msgs) != want || l.Dropped() != 0 {
		t.Fatalf("rsyslog has %d messages, dropped %d; want %d, none dropped", len(msgs), l.Dropped(), want)
	}
	seen := map[Kind]int{}
	for _, m := range msgs {
		k := kindOf(m)
		seen[k]++
		checkCodes(t, k, m)
	}
	for _, k := range Kinds() {
		if seen[k] == 0 {
			t.Errorf("no %s message arrived at rsyslog", k)
		}
	}
}

// checkCodes checks a received message carries the DICOM codes of its
// kind and names the record by digest.
func checkCodes(t *testing.T, k Kind, m *Message) {
	t.Helper()
	c, ok := eventCodes[k]
	if !ok {
		t.Fatalf("message with unknown wardgate kind %q", k)
	}
	if m.Event.EventID.Code != c.id.Code || m.Event.TypeCodes[0].Code != c.typ.Code || m.Source.ID != "hospital-a" {
		t.Fatalf("%s: EventID %s type %s source %s; want %s %s hospital-a", k, m.Event.EventID.Code, m.Event.TypeCodes[0].Code, m.Source.ID, c.id.Code, c.typ.Code)
	}
	if k == RecordSent && !strings.HasPrefix(objectOf(m), "sha256:") {
		t.Fatalf("record-sent names its object %q, want sha256:<digest>", objectOf(m))
	}
}

// TestOutageBuffersThenDrops: with the receiver down, Emit keeps
// returning at once; the first Buffer events wait in the queue, the rest
// are dropped and counted in wardgate_audit_dropped_total; when rsyslog is
// back the sender reconnects and delivers the queued ones.
func TestOutageBuffersThenDrops(t *testing.T) {
	r := audittest.StartRsyslog(t)
	const buffer, extra = 40, 25
	l := newTestLog(t, r, buffer)
	l.Emit(Event{Kind: ConfigLoad})
	testutil.WaitFor(t, "first message at rsyslog", func() bool { return len(r.Lines()) == 1 })
	r.Stop()
	testutil.WaitFor(t, "sender notices the outage", func() bool { return !l.Connected() })

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range buffer + extra {
			l.Emit(Event{Kind: RecordSent, Peer: "hospital-b", Object: fmt.Sprintf("outage-%d", i)})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Emit blocked while the syslog receiver was down: records would stall")
	}
	// The sender may hold one event it took before noticing the outage.
	if d := l.Dropped(); d != extra && d != extra-1 {
		t.Fatalf("dropped %d events; want %d (buffer %d of %d)", d, extra, buffer, buffer+extra)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(l.Collector())
	checkDroppedMetric(t, reg, l.Dropped())

	r.Start()
	delivered := 1 + buffer + extra - int(l.Dropped())
	testutil.WaitForWithin(t, time.Minute, "queued events delivered after the outage", func() bool { return len(r.Lines()) >= delivered })
	msgs := received(t, r.Lines())
	if len(msgs) != delivered {
		t.Fatalf("%d messages after the outage, want %d", len(msgs), delivered)
	}
	if got := objectOf(msgs[1]); got != "outage-0" {
		t.Fatalf("first message after the outage names %q, want outage-0 (the oldest queued)", got)
	}
}

func checkDroppedMetric(t *testing.T, reg *prometheus.Registry, want uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "wardgate_audit_dropped_total" {
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != float64(want) {
				t.Fatalf("wardgate_audit_dropped_total = %v, want %d", v, want)
			}
			return
		}
	}
	t.Fatal("wardgate_audit_dropped_total missing")
}
