package records

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

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
func (r *Relay) ServeMLLP(ctx context.Context, ln net.Listener) error {
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
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("hl7: MLLP accept: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveMLLPConn(ctx, c)
			c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
}

func (r *Relay) serveMLLPConn(ctx context.Context, c net.Conn) {
	rd := bufio.NewReaderSize(c, 64<<10)
	log := r.log.With("mllp_client", c.RemoteAddr().String())
	for {
		msg, err := hl7.ReadFrame(rd, r.cfg.MaxBody)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Warn("MLLP frame refused", "err", err)
				hl7.WriteFrame(c, hl7.BuildAck(nil, "AE", err.Error(), r.cfg.Now()))
			}
			return
		}
		ack := r.handleHL7(ctx, msg)
		if err := hl7.WriteFrame(c, ack); err != nil {
			log.Warn("MLLP ACK not sent", "err", err)
			return
		}
	}
}

// handleHL7 sends one HL7 message and returns the ACK to answer with.
func (r *Relay) handleHL7(ctx context.Context, msg []byte) []byte {
	m, err := hl7.ParseMSH(msg)
	if err != nil {
		return hl7.BuildAck(nil, "AE", err.Error(), r.cfg.Now())
	}
	peer, err := r.route(m)
	if err == nil {
		_, err = r.Send(ctx, peer, hl7.HL7ContentType, msg)
	}
	if err != nil {
		r.log.Warn("HL7 message not forwarded", "control_id", m.ControlID, "err", err)
		return hl7.BuildAck(m, "AE", err.Error(), r.cfg.Now())
	}
	return hl7.BuildAck(m, "AA", "", r.cfg.Now())
}
