package control

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
)

// ProofBackend exports the log's proofs in C2SP formats.
type ProofBackend interface {
	// LedgerProof is the c2sp.org/tlog-proof of the first entry with
	// this record digest (ErrNotFound if none).
	LedgerProof(ctx context.Context, digest [32]byte) ([]byte, error)
}

// ParseDigest reads a record digest: 64 hex characters.
func ParseDigest(s string) ([32]byte, error) {
	var d [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("%w: digest %.80q must be the record's SHA-256 as 64 hex characters", ErrBadRequest, s)
	}
	return [32]byte(b), nil
}

// proofRoutes serves GET /v1/ledger/proofs/{digest}: text/plain, the
// tlog-proof file.
func proofRoutes(mux *http.ServeMux, b ProofBackend, log *slog.Logger) {
	mux.HandleFunc("GET /v1/ledger/proofs/{digest}", func(w http.ResponseWriter, r *http.Request) {
		d, err := ParseDigest(r.PathValue("digest"))
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		p, err := b.LedgerProof(r.Context(), d)
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(p)
	})
}

// LedgerProof asks wardgated for the tlog-proof of digest.
func (c *Client) LedgerProof(ctx context.Context, digest [32]byte) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/v1/ledger/proofs/"+hex.EncodeToString(digest[:]), nil)
}

var _ ProofBackend = (*Client)(nil)
