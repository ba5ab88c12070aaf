package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config.
const (
	// DefaultBuffer is how many events wait for an absent syslog receiver
	// before new ones are dropped (and counted).
	DefaultBuffer = 10000
	// DefaultRetain is how many recent events GET /v1/audit can return.
	DefaultRetain = 10000
)

// Config configures a Log.
type Config struct {
	Box string // this box: the audit source of every event
	// Syslog, when set, sends every event to a SIEM; nil keeps the
	// in-memory ring only.
	Syslog *SyslogConfig
	Buffer int // events held while the receiver is away (default DefaultBuffer)
	Retain int // events kept for Since (default DefaultRetain)
	Logger *slog.Logger
}

// SyslogConfig is the receiver: host:port and the TLS client config.
type SyslogConfig struct {
	Address string
	TLS     *tls.Config
}

// TLSConfig is the client side of RFC 5425: the receiver's certificate
// must chain to caFile; certFile and keyFile, when set, are this box's
// client certificate for receivers that require one.
func TLSConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("audit: reading syslog CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("audit: syslog CA file %s holds no PEM certificate", caFile)
	}
	tc := &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("audit: loading syslog client certificate %s / key %s: %w", certFile, keyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Log is the box's audit trail: a ring of recent events for the report
// API and, when configured, a bounded queue to the syslog receiver. A nil
// *Log takes events and drops them, so hooks need no checks.
type Log struct {
	box  string
	ring ring
	q    chan Event // nil without syslog
	snd  *sender
	st   stats
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// stats are the counters the metrics export.
type stats struct {
	emitted, sent, dropped atomic.Uint64
	connected              atomic.Bool
}

// New builds the Log; Start starts sending.
func New(cfg Config) (*Log, error) {
	if cfg.Box == "" {
		return nil, errors.New("audit: Config.Box is empty")
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.Retain <= 0 {
		cfg.Retain = DefaultRetain
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	l := &Log{box: cfg.Box, ring: newRing(cfg.Retain)}
	if s := cfg.Syslog; s != nil {
		if s.Address == "" || s.TLS == nil {
			return nil, errors.New("audit: syslog needs an address and a TLS config (RFC 5425 is syslog over TLS only)")
		}
		l.q = make(chan Event, cfg.Buffer)
		l.snd = newSender(*s, cfg.Box, log.With("component", "audit"), l.q, &l.st)
	}
	return l, nil
}

// Start starts the syslog sender, if any, until Close.
func (l *Log) Start(ctx context.Context) {
	if l == nil || l.snd == nil {
		return
	}
	ctx, l.stop = context.WithCancel(ctx)
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.snd.run(ctx) }()
}

// Close stops the sender; events still queued are lost (they are in the
// ring and the journal).
func (l *Log) Close() error {
	if l == nil || l.stop == nil {
		return nil
	}
	l.stop()
	l.wg.Wait()
	return nil
}

// Emit records e. It never blocks: with the queue full (the receiver
// away for long) the event is dropped from the syslog stream and counted.
func (l *Log) Emit(e Event) {
	if l == nil {
		return
	}
	e.Box = l.box
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.st.emitted.Add(1)
	l.ring.add(e)
	if l.q == nil {
		return
	}
	select {
	case l.q <- e:
	default:
		l.st.dropped.Add(1)
	}
}

// Since returns up to limit events recorded at or after t, oldest first.
func (l *Log) Since(t time.Time, limit int) []Event {
	if l == nil {
		return nil
	}
	return l.ring.since(t, limit)
}

// Dropped is how many events the syslog stream lost to a full queue.
func (l *Log) Dropped() uint64 { return l.st.dropped.Load() }

// Sent is how many events were written to the receiver.
func (l *Log) Sent() uint64 { return l.st.sent.Load() }

// Connected says whether the sender holds a connection to the receiver.
func (l *Log) Connected() bool { return l.st.connected.Load() }

// Queued is how many events wait for the receiver.
func (l *Log) Queued() int { return len(l.q) }

// ring keeps the last n events.
type ring struct {
	mu   sync.Mutex
	buf  []Event
	next int
	full bool
}

func newRing(n int) ring { return ring{buf: make([]Event, n)} }

func (r *ring) add(e Event) {
	r.mu.Lock()
	r.buf[r.next] = e
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

func (r *ring) since(t time.Time, limit int) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	start, n := 0, r.next
	if r.full {
		start, n = r.next, len(r.buf)
	}
	var out []Event
	for i := range n {
		e := r.buf[(start+i)%len(r.buf)]
		if e.Time.Before(t) {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, e)
	}
	return out
}
