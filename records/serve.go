package records

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves h on ln (the LAN listener, possibly wrapped in TLS for mTLS,
// or the tunnel listener for PeerHandler) with timeouts that keep a slow or
// idle client from holding resources, until ctx ends. Record bodies are
// read with their own size bound by the handlers.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
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
