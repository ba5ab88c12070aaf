package records

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardgate/wardgate/internal/netlimit"
	"github.com/wardgate/wardgate/records/hl7"
)

// scriptEngine is an HL7 engine that answers each message with what
// reply returns (zero or more raw frames), to play a misbehaving or
// subverted engine on the receiving hospital's LAN.
type scriptEngine struct {
	mu    sync.Mutex
	got   [][]byte
	reply func(n int, m *hl7.MSH) []byte
	late  func(n int, m *hl7.MSH) []byte // written 30 ms after reply, if set
}

func (e *scriptEngine) serve(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go e.conn(c)
		}
	}()
	return ln.Addr().String()
}

func (e *scriptEngine) conn(c net.Conn) {
	defer c.Close()
	rd := bufio.NewReader(c)
	for {
		msg, err := hl7.ReadFrame(rd, 1<<20)
		if err != nil {
			return
		}
		m, _ := hl7.ParseMSH(msg)
		e.mu.Lock()
		e.got = append(e.got, msg)
		n := len(e.got)
		e.mu.Unlock()
		c.Write(e.reply(n, m))
		if e.late != nil {
			time.Sleep(30 * time.Millisecond)
			c.Write(e.late(n, m))
		}
	}
}

func (e *scriptEngine) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

func ackFrame(m *hl7.MSH, code string) []byte {
	var b []byte
	w := writerFunc(func(p []byte) (int, error) { b = append(b, p...); return len(p), nil })
	hl7.WriteFrame(w, hl7.BuildAck(m, code, "", time.Now()))
	return b
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func mllpPair(t *testing.T, eng *scriptEngine) (a, b *recBox) {
	t.Helper()
	n := &recNet{addrs: map[string]string{}}
	a = newRecBox(t, n, "st-mary", Delivery{}, nil)
	b = newRecBox(t, n, "city-general", Delivery{MLLPAddr: eng.serve(t)}, nil)
	admit(t, fixture(t), a, b)
	return a, b
}

func withControlID(id string) string { return strings.Replace(adtA01, "MSG00001", id, 1) }

// A record whose body would end the MLLP frame early (0x1C 0x0D) and
// smuggle a second message to the receiving engine is refused with a
// named code before any byte reaches the engine; so is a body that is
// not HL7 v2. A clean message still goes through afterwards.
func TestMLLPSmuggledBodyRefused(t *testing.T) {
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") }}
	a, b := mllpPair(t, eng)
	smuggled := withControlID("MSG00010") + "\x1c\r\x0b" + withControlID("EVIL0001")
	for name, body := range map[string]string{
		"FS CR inside":   smuggled,
		"VT inside":      withControlID("MSG00011") + "\x0bPID|2\r",
		"not HL7 v2":     `{"resourceType":"Patient"}`,
		"FS at the end":  withControlID("MSG00012") + "\x1c",
		"no MSH-10 (id)": strings.Replace(adtA01, "MSG00001", "", 1),
		// Every segment well-formed, but the frame would end after ZZZ.
		"FS CR in a field": withControlID("MSG00013") + "ZZZ|X\x1c\r" + withControlID("EVIL0002"),
	} {
		status, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(body))
		wantRefusal(t, status, out, 422, codeNotMLLP, "MLLP")
		if n := len(b.l.Lookup(sha256.Sum256([]byte(body)))); n != 0 {
			t.Errorf("%s: receiver journaled a refused record", name)
		}
	}
	if n := eng.count(); n != 0 {
		t.Fatalf("engine got %d messages from refused records", n)
	}
	status, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(adtA01))
	if status != 200 {
		t.Fatalf("clean message after refusals: %d %s", status, out)
	}
	if n := eng.count(); n != 1 {
		t.Fatalf("engine got %d messages, want 1", n)
	}
}

// An ACK that does not acknowledge the message sent (MSA-2 != MSH-10),
// or a stray extra ACK left on the pooled connection, is never taken as
// the engine's answer: a record the engine refused (AE) is not journaled
// as delivered, and the connection is dropped so the next record gets a
// fresh one.
func TestMLLPMismatchedAckRefused(t *testing.T) {
	lateStray := func(n int, m *hl7.MSH) []byte {
		if n != 1 {
			return nil
		}
		stray := *m
		stray.ControlID = "SMUGGLED1"
		return ackFrame(&stray, "AA")
	}
	refuseSecond := func(_ int, m *hl7.MSH) []byte {
		if m.ControlID == "MSG00002" {
			return ackFrame(m, "AE")
		}
		return ackFrame(m, "AA")
	}
	for name, eng := range map[string]*scriptEngine{
		// The stray ACK arrives after the first was read: it waits on the
		// pooled connection for the next record.
		"late extra ACK": {reply: refuseSecond, late: lateStray},
		// The engine answers AA, but always with another message's control ID.
		"wrong MSA-2": {reply: func(n int, m *hl7.MSH) []byte {
			if m.ControlID == "MSG00001" {
				other := *m
				other.ControlID = "SOMEONE-ELSE"
				return ackFrame(&other, "AA")
			}
			return ackFrame(m, "AA")
		}},
		// The engine answers message 1 twice (AA for a smuggled one too),
		// then refuses message 2: the stray AA must not answer message 2.
		"extra ACK": {reply: func(n int, m *hl7.MSH) []byte {
			if n == 1 {
				stray := *m
				stray.ControlID = "MSG00002" // the next record's ID, guessed
				return append(ackFrame(m, "AA"), ackFrame(&stray, "AA")...)
			}
			if m.ControlID == "MSG00002" {
				time.Sleep(50 * time.Millisecond)
				return ackFrame(m, "AE")
			}
			return ackFrame(m, "AA")
		}},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := mllpPair(t, eng)
			first, second := withControlID("MSG00001"), withControlID("MSG00002")
			status, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(first))
			refused := second
			if name == "wrong MSA-2" {
				// Sent twice (the second time on a fresh connection), acknowledged for another message both times.
				wantRefusal(t, status, out, 502, codeAckMismatch, "acknowledged another message")
				if n := eng.count(); n != 2 {
					t.Fatalf("engine got %d copies, want 2 (one retry on a fresh connection)", n)
				}
				refused = first
			} else {
				if status != 200 {
					t.Fatalf("message 1: %d %s", status, out)
				}
				status, out = post(t, a, "city-general", hl7.HL7ContentType, []byte(second))
				wantRefusal(t, status, out, 502, codeEngineError, "AE")
			}
			if n := len(b.l.Lookup(sha256.Sum256([]byte(refused)))); n != 0 {
				t.Fatal("receiver journaled a record its engine did not acknowledge AA")
			}
			// The box keeps serving: a third message on a fresh connection goes through.
			third := withControlID("MSG00003")
			if status, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(third)); status != 200 {
				t.Fatalf("message 3: %d %s", status, out)
			}
		})
	}
}

// mllpServer serves a's MLLP intake on ln (wrapped by wrap, if set) with
// short limits.
func mllpServer(t *testing.T, lim netlimit.Limits, wrap func(net.Listener) net.Listener) (addr string, a *recBox) {
	t.Helper()
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") }}
	n := &recNet{addrs: map[string]string{}}
	a = newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) {
		c.MLLPPeer = "city-general"
		c.MLLPLimits = lim
	})
	b := newRecBox(t, n, "city-general", Delivery{MLLPAddr: eng.serve(t)}, nil)
	admit(t, fixture(t), a, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	sl := net.Listener(ln)
	if wrap != nil {
		sl = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.r.ServeMLLP(ctx, sl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeMLLP: %v", err)
		}
	})
	return addr, a
}

// dialFrom dials addr from a given loopback source address.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// okExchange sends one message on a fresh connection from src and wants AA.
func okExchange(t *testing.T, src, addr, id string) {
	t.Helper()
	c := dialFrom(t, src, addr)
	if a := mllpExchange(t, c, bufio.NewReader(c), frame(withControlID(id))); a.Code != "AA" {
		t.Fatalf("legit client from %s: ACK %+v", src, a)
	}
}

// closedWithin wants the server to close c within d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: connection still open after %v", what, d)
		}
		return
	}
}

// A slowloris client (a frame begun and never finished), an idle client
// and a half-open flood from one host each lose their connections, and a
// client from another host is served throughout.
func TestMLLPBoundedConnections(t *testing.T) {
	lim := netlimit.Limits{MaxConns: 32, MaxConnsPerSource: 4, ReadTimeout: 200 * time.Millisecond, IdleTimeout: 1500 * time.Millisecond}
	addr, _ := mllpServer(t, lim, nil)

	slow := dialFrom(t, "127.0.0.1", addr)
	go func() {
		slow.Write([]byte{0x0b})
		for range 20 {
			time.Sleep(100 * time.Millisecond)
			slow.Write([]byte("M"))
		}
	}()
	idle := dialFrom(t, "127.0.0.1", addr)

	// Half-open flood: the per-source cap closes connections over it at once.
	var flood []net.Conn
	for range 8 {
		flood = append(flood, dialFrom(t, "127.0.0.1", addr))
	}
	closedWithin(t, flood[len(flood)-1], 300*time.Millisecond, "connection over the per-source cap")
	okExchange(t, "127.0.0.2", addr, "LEGIT001")

	closedWithin(t, slow, 700*time.Millisecond, "slowloris frame (well before the idle timeout)")
	closedWithin(t, idle, 3*time.Second, "idle connection")
	for _, c := range flood {
		closedWithin(t, c, 3*time.Second, "flood connection")
	}
	// Once the flood is gone, its host is served again.
	okExchange(t, "127.0.0.1", addr, "LEGIT002")
}

// emfileListener fails Accept with the error the kernel gives a process
// out of file descriptors, n times, then accepts normally. (Running the
// test process itself out of descriptors would break the test's clients
// and the ledger as well.)
type emfileListener struct {
	net.Listener
	mu sync.Mutex
	n  int
}

func (l *emfileListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.n > 0
	l.n--
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// EMFILE at Accept pauses the MLLP server; it does not end it.
func TestMLLPSurvivesEMFILE(t *testing.T) {
	addr, _ := mllpServer(t, netlimit.Limits{}, func(ln net.Listener) net.Listener { return &emfileListener{Listener: ln, n: 5} })
	okExchange(t, "127.0.0.1", addr, "AFTER001")
}

// FuzzMLLPFramingAndAck: a body CheckFrameable accepts goes out as exactly
// one frame that reads back as itself; an ACK stream MatchAck accepts
// acknowledges the sent message's MSH-10 with a valid code.
func FuzzMLLPFramingAndAck(f *testing.F) {
	m, _ := hl7.ParseMSH([]byte(adtA01))
	f.Add([]byte(adtA01), ackFrame(m, "AA"))
	f.Add([]byte(adtA01+"ZZZ|X\x1c\r"+adtA01), append(ackFrame(m, "AA"), ackFrame(m, "AE")...))
	other := *m
	other.ControlID = "X"
	f.Add([]byte(adtA01), ackFrame(&other, "AA"))
	f.Add([]byte("MSH|^~\\&|||||||ADT|1\r"), []byte("\x0bMSH|^~\\&|||||||ACK|2\rMSA|AA|1\x1c\r"))
	f.Fuzz(func(t *testing.T, body, acks []byte) {
		sent, err := hl7.CheckFrameable(body)
		if err != nil {
			return
		}
		if bytes.IndexByte(body, 0x0b) >= 0 || bytes.IndexByte(body, 0x1c) >= 0 {
			t.Fatalf("framing byte in accepted body %q", body)
		}
		var w bytes.Buffer
		if err := hl7.WriteFrame(&w, body); err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(&w)
		got, err := hl7.ReadFrame(rd, int64(len(body)))
		if err != nil || !bytes.Equal(got, body) || rd.Buffered() != 0 {
			t.Fatalf("frame of %q read back as %q (%v), %d bytes left", body, got, err, rd.Buffered())
		}
		ard := bufio.NewReaderSize(bytes.NewReader(acks), 16)
		for {
			raw, err := hl7.ReadFrame(ard, 4096)
			if err != nil {
				return
			}
			a, err := hl7.MatchAck(sent, raw)
			if err != nil {
				continue
			}
			if a.ControlID != sent.ControlID {
				t.Fatalf("ACK for %q matched %q", a.ControlID, sent.ControlID)
			}
			switch a.Code {
			case "AA", "AE", "AR", "CA", "CE", "CR":
			default:
				t.Fatalf("ACK code %q accepted", a.Code)
			}
		}
	})
}

// syncBuffer is a log sink shared by both boxes' loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The EHR's refusal text (here MSA-3 of an AE, as an OperationOutcome's
// diagnostics would be) may quote the patient: it never crosses to the
// sending hospital (which learns the code, AE), and neither box logs it
// at INFO or above; they log the refusal code and a digest.
func TestEHRDiagnosticsNotLogged(t *testing.T) {
	const secret = "SECRET-DIAGNOSTIC-PATIENT-42"
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte {
		var b bytes.Buffer
		hl7.WriteFrame(&b, hl7.BuildAck(m, "AE", secret, time.Now()))
		return b.Bytes()
	}}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) { c.Logger = logger })
	b := newRecBox(t, n, "city-general", Delivery{MLLPAddr: eng.serve(t)}, func(c *Config) { c.Logger = logger })
	admit(t, fixture(t), a, b)
	status, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(adtA01))
	wantRefusal(t, status, out, 502, codeEngineError, "answered AE")
	if strings.Contains(string(out), secret) {
		t.Fatalf("the engine's MSA-3 crossed to the sending hospital: %s", out)
	}
	got := logs.String()
	if strings.Contains(got, secret) {
		t.Fatalf("EHR diagnostic text logged:\n%s", got)
	}
	if !strings.Contains(got, "code="+codeEngineError) || !strings.Contains(got, "err_digest=") {
		t.Fatalf("refusal not logged with code and digest:\n%s", got)
	}
}

// The MLLP intake refuses, with AE, a frame whose message holds a 0x0B
// inside a field: it could never be delivered as one frame.
func TestMLLPIntakeRefusesFramingBytes(t *testing.T) {
	addr, a := mllpServer(t, netlimit.Limits{}, nil)
	c := dialFrom(t, "127.0.0.1", addr)
	rd := bufio.NewReader(c)
	msg := withControlID("VTINSIDE") + "ZZZ|X\x0bY\r"
	ack := mllpExchange(t, c, rd, frame(msg))
	if ack.Code != "AE" || ack.ControlID != "VTINSIDE" || !strings.Contains(ack.Text, "framing byte") {
		t.Fatalf("ACK %+v", ack)
	}
	if n := len(a.l.Lookup(sha256.Sum256([]byte(msg)))); n != 0 {
		t.Fatal("the sending box journaled a message it could never deliver")
	}
	// The connection stays in step: the next message goes through.
	if ack := mllpExchange(t, c, rd, frame(withControlID("CLEAN001"))); ack.Code != "AA" {
		t.Fatalf("next message: %+v", ack)
	}
}
