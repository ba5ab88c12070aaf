package records

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/hl7"
)

// deliver hands a received record to this box's LAN endpoint, from memory.
func (r *Relay) deliver(ctx context.Context, e *proof.Entry, body []byte) error {
	switch {
	case r.cfg.Deliver.HTTPURL != "":
		return r.deliverHTTP(ctx, e, body)
	case r.mllp != nil:
		return r.deliverMLLP(ctx, body)
	}
	return fmt.Errorf("%w: this box has no LAN endpoint configured (deliver.http_url or deliver.mllp_addr)", ErrDeliveryFailed)
}

func (r *Relay) deliverHTTP(ctx context.Context, e *proof.Entry, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.Deliver.HTTPURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: deliver.http_url %q: %w", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, err)
	}
	// Canonical keys set directly, and the transport without the client's
	// redirect machinery (which copies every request's headers): delivery
	// is the receiving box's costliest step per record.
	req.Header = http.Header{
		"Content-Type":    {e.ContentType},
		"Wardgate-Sender": {e.Sender},
		"Wardgate-Digest": {hex.EncodeToString(e.Digest[:])},
	}
	resp, err := r.lanRT.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("%w: POST %s: %w", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: POST %s answered %s", ErrDeliveryFailed, r.cfg.Deliver.HTTPURL, resp.Status)
	}
	return nil
}

func (r *Relay) deliverMLLP(ctx context.Context, body []byte) error {
	m, err := hl7.CheckFrameable(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotMLLP, err)
	}
	a, err := r.mllp.exchange(ctx, m, body)
	if err != nil {
		return fmt.Errorf("%w: MLLP %s: %w", ErrDeliveryFailed, r.cfg.Deliver.MLLPAddr, err)
	}
	if a.Code != "AA" && a.Code != "CA" {
		// MSA-3 is the engine's own text and may quote the message: it
		// goes back to the sender, never into this box's log.
		return fmt.Errorf("%w: MLLP %s answered %s: %s", ErrDeliveryFailed, r.cfg.Deliver.MLLPAddr, a.Code, a.Text)
	}
	return nil
}

// mllpPool keeps idle MLLP client connections to the LAN HL7 engine.
type mllpPool struct {
	addr string
	max  int64
	mu   sync.Mutex
	idle []*mllpConn
}

type mllpConn struct {
	c  net.Conn
	rd *bufio.Reader
}

func newMLLPPool(addr string, max int64) *mllpPool { return &mllpPool{addr: addr, max: max} }

// exchange sends msg (whose header is m) and returns the engine's ACK for
// it. A connection goes back to the pool only if the ACK acknowledges m
// (MSA-2 = MSH-10) and nothing else is waiting on it: an extra or stray
// ACK would otherwise be read as the answer to the next record.
func (p *mllpPool) exchange(ctx context.Context, m *hl7.MSH, msg []byte) (*hl7.Ack, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx)
		if err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok {
			c.c.SetDeadline(dl)
		} else {
			c.c.SetDeadline(time.Now().Add(30 * time.Second))
		}
		raw, err := func() ([]byte, error) {
			if err := hl7.WriteFrame(c.c, msg); err != nil {
				return nil, err
			}
			return hl7.ReadFrame(c.rd, p.max)
		}()
		if err != nil {
			c.c.Close()
			// A pooled connection may have been closed by the engine: retry once on a fresh one.
			if reused && attempt == 0 {
				continue
			}
			return nil, err
		}
		a, err := hl7.MatchAck(m, raw)
		if err != nil || c.rd.Buffered() > 0 {
			// Out of step, or bytes beyond the ACK (an extra ACK): the
			// connection is never used again.
			c.c.Close()
			return a, err
		}
		p.put(c)
		return a, nil
	}
}

func (p *mllpPool) get(ctx context.Context) (*mllpConn, bool, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	return &mllpConn{c: c, rd: bufio.NewReader(c)}, false, nil
}

func (p *mllpPool) put(c *mllpConn) {
	c.c.SetDeadline(time.Time{})
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= 64 {
		c.c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

func (p *mllpPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.idle {
		c.c.Close()
	}
	p.idle = nil
}
