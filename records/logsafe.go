package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
)

// logRefused logs a refused or failed record at WARN with its refusal code
// and a digest of the error text, never the text itself: a refusal can
// quote the EHR's own diagnostics (a FHIR OperationOutcome, an HL7 MSA-3
// or ERR segment), which may hold patient data. The caller that got the
// refusal has the full text; so does this log at DEBUG, for a developer
// with the box's data on a test system.
//
// A record a hospital system did not take is logged at DEBUG: the
// receiving box logs its endpoint's state change at WARN, once (health.go),
// not every record refused while the endpoint is down.
func (r *Relay) logRefused(ctx context.Context, msg string, err error, attrs ...any) {
	code, _ := classify(err)
	sum := sha256.Sum256([]byte(err.Error()))
	level := slog.LevelWarn
	if errors.Is(err, ErrDeliveryFailed) {
		level = slog.LevelDebug
	}
	r.log.Log(ctx, level, msg, append(attrs, "code", code, "err_digest", hex.EncodeToString(sum[:8]))...)
	r.log.DebugContext(ctx, msg+" (error text)", append(attrs, "err", err)...)
}
