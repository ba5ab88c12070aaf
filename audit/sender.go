package audit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/wardgate/wardgate/internal/tick"
)

// Reconnect backoff and write bounds.
const (
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 30 * time.Second
	dialTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
)

// sender drains the queue into one TLS connection at a time, reconnecting
// with exponential backoff. RFC 5425 has no acknowledgements: messages in
// flight when a receiver dies may be lost; those still queued are not.
type sender struct {
	cfg    SyslogConfig
	header Header
	log    *slog.Logger
	q      <-chan Event
	st     *stats
}

func newSender(cfg SyslogConfig, box string, log *slog.Logger, q <-chan Event, st *stats) *sender {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = box
	}
	return &sender{cfg: cfg, header: Header{Hostname: host, AppName: "wardgated", ProcID: os.Getpid()}, log: log, q: q, st: st}
}

// run connects, pumps, and reconnects until ctx ends.
func (s *sender) run(ctx context.Context) {
	var pending []byte // a framed message taken from the queue, not yet written
	backoff := minBackoff
	for ctx.Err() == nil {
		conn, err := s.dial(ctx)
		if err != nil {
			s.log.Warn("audit: syslog receiver unreachable; events queue until it is back", "addr", s.cfg.Address, "retry_in", backoff, "err", err)
			if !tick.Sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		s.st.connected.Store(true)
		s.log.Info("audit: connected to the syslog receiver", "addr", s.cfg.Address)
		err = s.pump(ctx, conn, &pending)
		s.st.connected.Store(false)
		conn.Close()
		if ctx.Err() == nil {
			s.log.Warn("audit: syslog connection lost; reconnecting", "addr", s.cfg.Address, "err", err)
		}
	}
}

func (s *sender) dial(ctx context.Context) (*tls.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: s.cfg.TLS}
	c, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("audit: dialing syslog %s: %w", s.cfg.Address, err)
	}
	return c.(*tls.Conn), nil
}

// pump writes queued events until the connection fails or ctx ends. A
// receiver never writes back, so a read that returns means it closed.
func (s *sender) pump(ctx context.Context, conn *tls.Conn, pending *[]byte) error {
	closed := make(chan error, 1)
	go func() {
		_, err := conn.Read(make([]byte, 1))
		if err == nil {
			err = errors.New("receiver wrote to a syslog sender")
		}
		closed <- err
	}()
	for {
		if *pending == nil {
			select {
			case e := <-s.q:
				msg, err := FormatSyslog(s.header, e)
				if err != nil {
					s.log.Error("audit: formatting event", "kind", e.Kind, "err", err)
					continue
				}
				*pending = Frame(msg)
			case err := <-closed:
				return closedErr(err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return err
		}
		if _, err := conn.Write(*pending); err != nil {
			return err
		}
		*pending = nil
		s.st.sent.Add(1)
	}
}

func closedErr(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("receiver closed the connection")
	}
	return err
}
