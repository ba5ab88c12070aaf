package records

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/wardgate/wardgate/internal/netlimit"
)

// Serve serves h on ln, with netlimit's default caps and timeouts, (the LAN listener, possibly wrapped in TLS for mTLS,
// or the tunnel listener for PeerHandler) with timeouts that keep a slow or
// idle client from holding resources, until ctx ends. Record bodies are
// read with their own size bound by the handlers.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return ServeLimited(ctx, netlimit.Listen(ln, netlimit.Limits{}), netlimit.Limits{}.HTTPServer(h))
}

// ServeLimited serves srv on ln (wrapped by netlimit.Listen, possibly
// under TLS) until ctx ends, then shuts it down.
func ServeLimited(ctx context.Context, ln net.Listener, srv *http.Server) error {
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	})
	defer stop()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
