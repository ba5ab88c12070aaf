package witness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxReply bounds a cosignature reply: a few signature lines.
const maxReply = 8 << 10

// Handler serves POST Path. Mount it on the peer records server only,
// which the tunnel limits to admitted peers; the checkpoint's own signature
// says which log it is.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, w.serveAddCheckpoint)
	return mux
}

func (w *Witness) serveAddCheckpoint(rw http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, MaxRequest))
	if err != nil {
		http.Error(rw, fmt.Sprintf("witness: request body over %d bytes or unreadable", MaxRequest), http.StatusRequestEntityTooLarge)
		return
	}
	r, err := ParseRequest(body)
	if err == nil {
		var lines []byte
		if lines, err = w.AddCheckpoint(req.Context(), r); err == nil {
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = rw.Write(lines)
			return
		}
	}
	writeError(rw, err)
}

// writeError maps the witness errors to the statuses c2sp.org/tlog-witness
// names.
func writeError(rw http.ResponseWriter, err error) {
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict):
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		_, _ = fmt.Fprintf(rw, "%d\n", conflict.Size)
	case errors.Is(err, ErrMalformed):
		http.Error(rw, err.Error(), http.StatusBadRequest)
	case errors.Is(err, ErrUnknownLog):
		http.Error(rw, err.Error(), http.StatusNotFound)
	case errors.Is(err, ErrBadSignature):
		http.Error(rw, err.Error(), http.StatusForbidden)
	case errors.Is(err, ErrInconsistent):
		http.Error(rw, err.Error(), http.StatusUnprocessableEntity)
	default:
		http.Error(rw, "witness: internal error", http.StatusInternalServerError)
	}
}
