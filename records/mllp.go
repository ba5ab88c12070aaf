package records

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/wardgate/wardgate/internal/netlimit"
	"github.com/wardgate/wardgate/records/hl7"
)

// route picks the peer for an HL7 message.
func (r *Relay) route(m *hl7.MSH) (string, error) {
	fac := m.ReceivingFacility
	if i := strings.IndexByte(fac, m.Component()); i >= 0 {
		fac = fac[:i]
	}
	if p, ok := r.cfg.MLLPRoutes[fac]; ok {
		return p, nil
	}
	if r.cfg.MLLPPeer != "" {
		return r.cfg.MLLPPeer, nil
	}
	return "", fmt.Errorf("%w: receiving facility (MSH-6) %q has no route; add it to mllp routes or set a default mllp peer", ErrNoRoute, fac)
}

// ServeMLLP accepts HL7 v2 over MLLP on ln until ctx ends. Each message is
// answered, in order, with AA once the record is journaled, forwarded,
// delivered and countersigned, or AE with the reason. A malformed frame is
// answered with AE and the connection is closed (framing cannot resync).
//
// ln is wrapped with Config.MLLPLimits: a connection cap in total and per
// source, an idle deadline between frames and a deadline for each frame.
// A temporary Accept error (EMFILE, ENFILE) pauses accepting, with
// backoff, and never ends the server. For MLLPS pass a tls.Listener.
func (r *Relay) ServeMLLP(ctx context.Context, ln net.Listener) error {
	lim := r.cfg.MLLPLimits.WithDefaults()
	ln = netlimit.Listen(ln, lim)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := make(map[net.Conn]struct{})
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for fails := 0; ; {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if netlimit.Temporary(err) {
				r.log.Warn("MLLP accept failed; backing off", "err", err)
				select {
				case <-time.After(netlimit.Backoff(fails)):
				case <-ctx.Done():
				}
				fails++
				continue
			}
			return fmt.Errorf("hl7: MLLP accept: %w", err)
		}
		fails = 0
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveMLLPConn(ctx, c, lim)
			c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
}

// serveMLLPConn answers frames on c. The client gets lim.IdleTimeout to
// start a frame and lim.ReadTimeout to finish it, so a silent or slow
// (slowloris) client lets go of its connection.
func (r *Relay) serveMLLPConn(ctx context.Context, c net.Conn, lim netlimit.Limits) {
	rd := bufio.NewReaderSize(c, 64<<10)
	log := r.log.With("mllp_client", c.RemoteAddr().String())
	for {
		c.SetReadDeadline(time.Now().Add(lim.IdleTimeout))
		_, err := rd.Peek(1)
		var msg []byte
		if err == nil {
			c.SetReadDeadline(time.Now().Add(lim.ReadTimeout))
			msg, err = hl7.ReadFrame(rd, r.cfg.MaxBody)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Warn("MLLP frame refused", "err", err)
				hl7.WriteFrame(c, hl7.BuildAck(nil, "AE", err.Error(), r.cfg.Now()))
			}
			return
		}
		ack := r.handleHL7(ctx, msg, tlsState(c))
		if err := hl7.WriteFrame(c, ack); err != nil {
			log.Warn("MLLP ACK not sent", "err", err)
			return
		}
	}
}

// tlsState is an MLLPS connection's TLS state (nil for plain MLLP).
func tlsState(c net.Conn) *tls.ConnectionState {
	for {
		switch x := c.(type) {
		case *tls.Conn:
			cs := x.ConnectionState()
			return &cs
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
}

// handleHL7 sends one HL7 message and returns the ACK to answer with.
func (r *Relay) handleHL7(ctx context.Context, msg []byte, cs *tls.ConnectionState) []byte {
	m, err := hl7.CheckFrameable(msg)
	if err != nil {
		return hl7.BuildAck(m, "AE", err.Error(), r.cfg.Now()) // m may be nil
	}
	peer, err := r.route(m)
	if err == nil {
		err = r.clientMayReach(cs, peer)
	}
	if err == nil {
		_, err = r.Send(ctx, peer, hl7.HL7ContentType, msg)
	}
	if err != nil {
		r.logRefused(ctx, "HL7 message not forwarded", err, "control_id", m.ControlID)
		return hl7.BuildAck(m, intakeAckCode(err), err.Error(), r.cfg.Now())
	}
	return hl7.BuildAck(m, "AA", "", r.cfg.Now())
}

// intakeAckCode answers the sending system AR when resending the same
// message cannot help (a consent refusal, or a receiving box that refused
// it for good), else AE.
func intakeAckCode(err error) string {
	var rf *Refusal
	if errors.As(err, &rf) && !rf.Retryable {
		return "AR"
	}
	return ackCode(err)
}
