package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// DefaultSocket is where wardgated listens and the CLI dials by default.
const DefaultSocket = "/run/wardgate/control.sock"

// DefaultGroup owns the socket so that its members can run `wardgate`.
const DefaultGroup = "wardgate"

// SocketMode lets root and the wardgate group use the socket, nobody else.
const SocketMode fs.FileMode = 0o660

// ServerConfig configures the control socket.
type ServerConfig struct {
	Path    string // default DefaultSocket
	Group   string // default DefaultGroup; if it does not exist the socket keeps gid 0
	Backend Backend
	Logger  *slog.Logger
	// Wrap, when set, wraps the handler, and ConnContext sees each
	// connection: the box's audit trail of CLI access uses them.
	Wrap        func(http.Handler) http.Handler
	ConnContext func(context.Context, net.Conn) context.Context
}

// Server serves the control API on a unix socket.
type Server struct {
	path string
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
}

// NewServer binds the socket: it removes a stale socket left by a crashed
// daemon (refusing if another daemon still answers on it, or if the path
// is not a socket), then sets mode 0660 and the group.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("control: ServerConfig.Backend is nil")
	}
	if cfg.Path == "" {
		cfg.Path = DefaultSocket
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "control")
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("control: creating socket directory: %w", err)
	}
	if err := removeStale(cfg.Path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("control: listening on %s: %w", cfg.Path, err)
	}
	// The listener unlinks the socket on Close; keep that behaviour.
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(cfg.Path, SocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: chmod %s: %w", cfg.Path, err)
	}
	setGroup(cfg.Path, cfg.Group, log)
	s := &Server{path: cfg.Path, ln: ln, log: log}
	s.srv = &http.Server{
		Handler:           wrap(cfg.Wrap, Handler(cfg.Backend, log)),
		ConnContext:       cfg.ConnContext,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	return s, nil
}

func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control: checking socket path: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control: socket path %s exists and is not a socket; remove it or set control.socket to another path", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("control: another wardgated is already serving %s", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control: removing stale socket %s: %w", path, err)
	}
	return nil
}

func setGroup(path, group string, log *slog.Logger) {
	g, err := user.LookupGroup(group)
	if err != nil {
		log.Warn("control socket group not found; socket stays group root, only root can use the CLI", "group", group, "err", err)
		return
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		log.Warn("control socket group has a non-numeric gid", "group", group, "gid", g.Gid)
		return
	}
	if err := os.Chown(path, -1, gid); err != nil {
		log.Warn("control socket chown failed", "group", group, "err", err)
	}
}

// Path is the socket path.
func (s *Server) Path() string { return s.path }

// Serve answers requests until ctx is done, then shuts down, giving
// in-flight requests up to 5 s, and removes the socket.
func (s *Server) Serve(ctx context.Context) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("control socket listening", "path", s.path)
	select {
	case err := <-errc:
		return fmt.Errorf("control: serving %s: %w", s.path, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	<-errc
	return err
}

// Close stops the server at once and removes the socket.
func (s *Server) Close() error { return s.srv.Close() }

// Handler is the control API:
//
//	GET  /v1/status             StatusInfo
//	GET  /v1/peers              []PeerInfo
//	POST /v1/peers/{name}/attest AttestResult
//	GET  /v1/reports?peer&verdict&since&limit&offset&after []ReportSummary
//	GET  /v1/reports/{id}       the signed report
//	GET  /v1/ledger             LedgerInfo
//	GET  /v1/firmware           FirmwareInfo
//	GET  /v1/checkpoints        []CheckpointInfo
//	GET  /v1/ledger/proofs/{digest} a c2sp.org/tlog-proof (ProofBackend)
//	GET  /v1/consents, /v1/consents/{id}, POST /v1/consents/check (ConsentBackend)
func Handler(b Backend, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Status(r.Context())
		reply(w, log, v, err)
	})
	mux.HandleFunc("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Peers(r.Context())
		reply(w, log, nonNil(v), err)
	})
	mux.HandleFunc("POST /v1/peers/{name}/attest", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := ValidPeer(name); err != nil {
			reply(w, log, nil, err)
			return
		}
		v, err := b.Attest(r.Context(), name)
		reply(w, log, v, err)
	})
	ReportRoutes(mux, b, log)
	if cb, ok := b.(ConsentBackend); ok {
		consentRoutes(mux, cb, log)
	}
	if pb, ok := b.(ProofBackend); ok {
		proofRoutes(mux, pb, log)
	}
	mux.HandleFunc("GET /v1/ledger", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.LedgerStatus(r.Context())
		reply(w, log, v, err)
	})
	mux.HandleFunc("GET /v1/firmware", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Firmware(r.Context())
		reply(w, log, v, err)
	})
	mux.HandleFunc("GET /v1/checkpoints", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Checkpoints(r.Context())
		reply(w, log, nonNil(v), err)
	})
	return mux
}

// ReportRoutes adds the read-only routes shared with the report API:
// GET /v1/reports, /v1/reports/{id}.
func ReportRoutes(mux *http.ServeMux, b Backend, log *slog.Logger) {
	mux.HandleFunc("GET /v1/reports", func(w http.ResponseWriter, r *http.Request) {
		f, err := ParseReportFilter(r.URL.Query(), time.Now())
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		v, err := b.Reports(r.Context(), f)
		reply(w, log, nonNil(v), err)
	})
	mux.HandleFunc("GET /v1/reports/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := ValidName(id); err != nil {
			reply(w, log, nil, err)
			return
		}
		doc, err := b.Report(r.Context(), id)
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		// The bytes go out exactly as signed.
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"` // not_found | not_ready | bad_request | internal
}

// reply writes v as JSON, or err with a status derived from its kind.
func reply(w http.ResponseWriter, log *slog.Logger, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status, code := http.StatusInternalServerError, "internal"
		switch {
		case errors.Is(err, ErrNotFound):
			status, code = http.StatusNotFound, "not_found"
		case errors.Is(err, ErrNotReady):
			status, code = http.StatusServiceUnavailable, "not_ready"
		case errors.Is(err, ErrBadRequest):
			status, code = http.StatusBadRequest, "bad_request"
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			status, code = http.StatusServiceUnavailable, "timeout"
		default:
			log.Warn("control request failed", "err", err)
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(errorBody{Error: err.Error(), Code: code})
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		log.Debug("control reply", "err", err)
	}
}

// wrap applies w to h, if w is set.
func wrap(w func(http.Handler) http.Handler, h http.Handler) http.Handler {
	if w == nil {
		return h
	}
	return w(h)
}
