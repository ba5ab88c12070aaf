// Package api is the security team's view of a wardgate box: a read-only
// HTTPS API behind mutual TLS (client certificates from the hospital's
// security-team CA) serving attestation reports, peers and checkpoints, and
// Prometheus metrics on a separate plain listener.
//
// Both read the same control.Backend the CLI uses, so there is one source
// of truth in the daemon.
package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wardgate/wardgate/gateway/control"
)

// Config configures the report API.
type Config struct {
	Backend control.Backend
	// CertFile and KeyFile are the API's server certificate (PEM).
	CertFile, KeyFile string
	// ClientCAFile holds the CA certificate(s) (PEM) that issue the
	// security team's client certificates. Only they are admitted.
	ClientCAFile string
	Logger       *slog.Logger
	// Audit, when set, records each request and serves GET /v1/audit.
	Audit AuditTrail
}

// Server is the mTLS report API.
type Server struct {
	tls *tls.Config
	h   http.Handler
	log *slog.Logger
}

// New loads the certificates and builds the server. Nothing listens yet.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("api: Config.Backend is nil")
	}
	tc, err := TLSConfig(cfg.CertFile, cfg.KeyFile, cfg.ClientCAFile)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "api")
	return &Server{tls: tc, h: withAudit(Handler(cfg.Backend, log), cfg.Audit, log), log: log}, nil
}

// TLSConfig is the server side of mutual TLS: TLS 1.3 only, and a client
// certificate chaining to a CA in clientCAFile is required on every
// connection.
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("api: tls cert and key files must both be set")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("api: loading server certificate %s / key %s: %w", certFile, keyFile, err)
	}
	if clientCAFile == "" {
		return nil, errors.New("api: client CA file must be set: only clients with a certificate from that CA are served")
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("api: reading client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("api: client CA file %s holds no PEM certificate", clientCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// Serve serves HTTPS on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.h,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// Refused handshakes are expected noise from scanners; keep them at debug.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return serve(ctx, srv, tls.NewListener(ln, s.tls), s.log, "report API")
}

func serve(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger, what string) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info(what+" listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("api: %s on %s: %w", what, ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

// ReportPage is the body of GET /v1/reports.
type ReportPage struct {
	Reports []control.ReportSummary `json:"reports"`
	// NextCursor, when set, fetches the next page: repeat the same filters
	// with ?cursor=NextCursor.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Handler is the read-only API (GET only; other methods get 405):
//
//	GET /v1/reports?peer&verdict&since&limit&offset|cursor  ReportPage (cursor: next_cursor of the previous page)
//	GET /v1/reports/{id}   the signed report, byte for byte
//	GET /v1/peers          []control.PeerInfo
//	GET /v1/checkpoints    []control.CheckpointInfo
func Handler(b control.Backend, log *slog.Logger) http.Handler {
	h := handlers{b: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/reports", h.reports)
	mux.HandleFunc("GET /v1/reports/{id}", h.report)
	mux.HandleFunc("GET /v1/peers", h.peers)
	mux.HandleFunc("GET /v1/checkpoints", h.checkpoints)
	return audit(mux, log)
}

// handlers answers the report API's routes from the control backend.
type handlers struct {
	b   control.Backend
	log *slog.Logger
}

// reports lists report summaries a page at a time; the cursor is the last
// id of the previous page.
func (h handlers) reports(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if c := q.Get("cursor"); c != "" {
		after, err := decodeCursor(c)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		q.Set("after", after)
	}
	f, err := control.ParseReportFilter(q, time.Now())
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	rs, err := h.b.Reports(r.Context(), f)
	if err != nil {
		backendErr(w, h.log, err)
		return
	}
	page := ReportPage{Reports: rs}
	if page.Reports == nil {
		page.Reports = []control.ReportSummary{}
	}
	if len(rs) == f.Limit {
		page.NextCursor = encodeCursor(rs[len(rs)-1].ID)
	}
	writeJSON(w, page)
}

// report returns one signed report document as stored.
func (h handlers) report(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := control.ValidName(id); err != nil {
		writeErr(w, http.StatusBadRequest, "report id: "+err.Error())
		return
	}
	doc, err := h.b.Report(r.Context(), id)
	if err != nil {
		backendErr(w, h.log, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

func (h handlers) peers(w http.ResponseWriter, r *http.Request) {
	ps, err := h.b.Peers(r.Context())
	if err != nil {
		backendErr(w, h.log, err)
		return
	}
	if ps == nil {
		ps = []control.PeerInfo{}
	}
	writeJSON(w, ps)
}

func (h handlers) checkpoints(w http.ResponseWriter, r *http.Request) {
	cps, err := h.b.Checkpoints(r.Context())
	if err != nil {
		backendErr(w, h.log, err)
		return
	}
	if cps == nil {
		cps = []control.CheckpointInfo{}
	}
	writeJSON(w, cps)
}

// audit logs who asked for what: the security team's access is itself
// something a hospital wants on record.
func audit(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			who = r.TLS.PeerCertificates[0].Subject.String()
		}
		log.Info("api request", "client", who, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		h.ServeHTTP(w, r)
	})
}

// Cursors are opaque to clients. They carry the id of the last report of
// the page (keyset pagination), so new reports arriving at the head while a
// client pages neither repeat nor skip anything.
const cursorPrefix = "after:"

func encodeCursor(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastID))
}

func decodeCursor(c string) (string, error) {
	bad := fmt.Errorf("cursor %q is not one this API issued; use next_cursor from the previous page", c)
	if len(c) > 512 {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", bad
	}
	id, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || control.ValidName(id) != nil {
		return "", bad
	}
	return id, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func backendErr(w http.ResponseWriter, log *slog.Logger, err error) {
	switch {
	case errors.Is(err, control.ErrNotFound):
		writeErr(w, http.StatusNotFound, err.Error())
	case errors.Is(err, control.ErrBadRequest):
		writeErr(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, control.ErrNotReady):
		writeErr(w, http.StatusServiceUnavailable, err.Error())
	default:
		log.Warn("api backend error", "err", err)
		writeErr(w, http.StatusInternalServerError, "internal error; see the wardgated log")
	}
}
