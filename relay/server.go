package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardgate/wardgate/internal/names"
)

// ServerConfig configures a relay.
type ServerConfig struct {
	// TLS holds the relay's certificate and ClientCAs, the consortium's
	// relay CA that issued the boxes' enrollment certificates. The server
	// requires and verifies a client certificate whatever ClientAuth says.
	TLS *tls.Config
	// Allowed are the boxes of the consortium: a client certificate for
	// any other name is refused, and nothing is forwarded to it.
	Allowed []string
	Logger  *slog.Logger
	// Tamper, if set, may change each frame before it is forwarded. It
	// plays a hostile relay in the boxes' tests (which must show that
	// such a relay gains nothing); wardgate-relay never sets it.
	Tamper func(*Frame)
}

// handshakeTimeout bounds a connection's TLS handshake.
const handshakeTimeout = 10 * time.Second

// Server forwards frames between the connected boxes of its consortium.
// It holds nothing but the connections: no state on disk, and per
// connection one bounded send queue.
type Server struct {
	tls     *tls.Config
	tamper  func(*Frame)
	allowed map[string]bool
	log     *slog.Logger

	mu    sync.Mutex
	conns map[string]*serverConn

	forwarded, forwardedBytes, refused, accepted atomic.Uint64
}

type serverConn struct {
	box string
	c   net.Conn
	q   *sendQueue
}

// NewServer checks cfg and returns a relay server.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil {
		return nil, errors.New("relay: ServerConfig.TLS needs the relay's certificate and key")
	}
	if cfg.TLS.ClientCAs == nil {
		return nil, errors.New("relay: ServerConfig.TLS.ClientCAs is empty; give the consortium's relay CA, which issues the boxes' certificates")
	}
	if len(cfg.Allowed) == 0 {
		return nil, errors.New("relay: ServerConfig.Allowed is empty; list the consortium's boxes")
	}
	allowed := map[string]bool{}
	for _, b := range cfg.Allowed {
		if err := names.Check(b); err != nil {
			return nil, fmt.Errorf("relay: allowed box: %w", err)
		}
		allowed[b] = true
	}
	tc := cfg.TLS.Clone()
	tc.ClientAuth = tls.RequireAndVerifyClientCert
	tc.MinVersion = tls.VersionTLS13
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{tls: tc, tamper: cfg.Tamper, allowed: allowed, log: log.With("component", "relay"), conns: map[string]*serverConn{}}, nil
}

// Serve accepts boxes on ln until ctx ends or ln fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.closeAll()
				return nil
			}
			return fmt.Errorf("relay: accept: %w", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.handle(ctx, c) }()
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range s.conns {
		sc.c.Close()
	}
}

// handle authenticates one box, then forwards its frames until it goes.
func (s *Server) handle(ctx context.Context, raw net.Conn) {
	defer raw.Close()
	box, tc, err := s.authenticate(ctx, raw)
	if err != nil {
		s.refused.Add(1)
		s.log.Info("box refused", "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	sc := &serverConn{box: box, c: tc, q: newSendQueue()}
	s.attach(sc)
	defer s.detach(sc)
	s.accepted.Add(1)
	s.log.Info("box connected", "peer_box", box, "remote", raw.RemoteAddr().String())
	go func() {
		if err := sc.q.run(tc); err != nil {
			tc.Close()
		}
	}()
	err = s.forward(ctx, sc)
	s.log.Info("box disconnected", "peer_box", box, "err", err)
}

// authenticate runs the TLS handshake and names the box by its verified
// certificate's common name, which must be an allowed box.
func (s *Server) authenticate(ctx context.Context, raw net.Conn) (string, *tls.Conn, error) {
	tc := tls.Server(raw, s.tls)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return "", nil, fmt.Errorf("TLS handshake: %w", err)
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", nil, errors.New("no client certificate")
	}
	box := certs[0].Subject.CommonName
	if err := names.Check(box); err != nil {
		return "", nil, fmt.Errorf("certificate common name: %w", err)
	}
	if !s.allowed[box] {
		return "", nil, fmt.Errorf("box %q is not in this relay's consortium", box)
	}
	return box, tc, nil
}

// attach makes sc the box's connection, closing an older one: a box that
// reconnects after its NAT dropped the old flow must not wait for it to
// time out.
func (s *Server) attach(sc *serverConn) {
	s.mu.Lock()
	old := s.conns[sc.box]
	s.conns[sc.box] = sc
	s.mu.Unlock()
	if old != nil {
		old.c.Close()
	}
}

func (s *Server) detach(sc *serverConn) {
	sc.q.stop()
	s.mu.Lock()
	if s.conns[sc.box] == sc {
		delete(s.conns, sc.box)
	}
	s.mu.Unlock()
}

// forward reads sc's frames and hands each to its destination, named as
// coming from sc's box.
func (s *Server) forward(ctx context.Context, sc *serverConn) error {
	var buf []byte
	r := bufio.NewReaderSize(sc.c, readBuffer)
	for {
		f, nb, err := ReadFrame(r, buf)
		buf = nb
		if err != nil {
			return err
		}
		dst := s.lookup(f.Box)
		if dst == nil || dst == sc {
			if f.Type == TypeOpen || f.Type == TypeData {
				s.reject(ctx, sc, f, "unreachable: box "+f.Box+" is not connected to the relay")
			}
			continue
		}
		f.Box = sc.box
		if s.tamper != nil {
			s.tamper(&f)
		}
		out, err := AppendFrame(getBuf(4+headerLen+len(f.Box)+len(f.Payload)), f)
		if err != nil {
			return err
		}
		ok := false
		if f.Type == TypePacket {
			ok = dst.q.packet(out)
		} else if ok = dst.q.frame(ctx, out); !ok {
			// A destination that cannot take stream frames is stuck: drop
			// it rather than let its streams lose bytes silently.
			dst.c.Close()
		}
		if ok {
			s.forwarded.Add(1)
			s.forwardedBytes.Add(uint64(len(f.Payload)))
		}
	}
}

// reject answers a stream frame for an absent box with a close, so the
// dialer fails at once rather than at its timeout.
func (s *Server) reject(ctx context.Context, sc *serverConn, f Frame, why string) {
	out, err := AppendFrame(nil, Frame{Type: TypeClose, Box: f.Box, Stream: f.Stream ^ peerStreamBit, Payload: []byte(why)})
	if err == nil {
		sc.q.frame(ctx, out)
	}
}

func (s *Server) lookup(box string) *serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.allowed[box] {
		return nil
	}
	return s.conns[box]
}

// ServerStats are the relay's counters.
type ServerStats struct {
	Connected       []string // boxes connected now
	Accepted        uint64   // connections authenticated
	Refused         uint64   // connections refused (TLS, certificate, not in the consortium)
	FramesForwarded uint64
	BytesForwarded  uint64 // payload bytes (ciphertext: WireGuard packets, TLS records)
	Dropped         uint64 // frames dropped on full queues
}

// Stats reads the counters.
func (s *Server) Stats() ServerStats {
	st := ServerStats{Accepted: s.accepted.Load(), Refused: s.refused.Load(),
		FramesForwarded: s.forwarded.Load(), BytesForwarded: s.forwardedBytes.Load()}
	s.mu.Lock()
	for b, sc := range s.conns {
		st.Connected = append(st.Connected, b)
		st.Dropped += sc.q.dropped.Load()
	}
	s.mu.Unlock()
	slices.Sort(st.Connected)
	return st
}
