package gateway

import (
	"context"
	"log/slog"
)

// A box with healthy peers logs nothing at INFO in steady state: state
// changes go to INFO once (the gateway logs an admission, a revocation, a
// peer unreachable and back, peers.go), failures to WARN once per state
// change, and what repeats every interval to DEBUG. Two parts log routine
// events at INFO: the tunnel's "peer admitted" at every renewal (the
// gateway already logged the admission), and the ledger's anchoring of
// every checkpoint. routine lowers exactly those to DEBUG on the loggers
// the gateway hands the tunnel and the ledger; their WARN and ERROR, and
// their other INFO lines, pass unchanged.

// routineMsgs are the INFO messages that repeat in steady state; match,
// if set, must also hold for the record (a renewal, not a first admission).
var routineMsgs = map[string]func(slog.Record) bool{
	"peer admitted":       renewal,
	"anchor tx sent":      nil,
	"checkpoint anchored": nil,
}

// renewal reports whether a "peer admitted" record is a renewal.
func renewal(r slog.Record) bool {
	renewed := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "renewed" {
			renewed = a.Value.Kind() == slog.KindBool && a.Value.Bool()
			return false
		}
		return true
	})
	return renewed
}

// routineHandler lowers routine INFO records to DEBUG.
type routineHandler struct{ slog.Handler }

// routine is log with routine INFO records at DEBUG.
func routine(log *slog.Logger) *slog.Logger { return slog.New(routineHandler{log.Handler()}) }

func (h routineHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		if match, ok := routineMsgs[r.Message]; ok && (match == nil || match(r)) {
			if !h.Enabled(ctx, slog.LevelDebug) {
				return nil
			}
			r.Level = slog.LevelDebug
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h routineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return routineHandler{h.Handler.WithAttrs(as)}
}

func (h routineHandler) WithGroup(name string) slog.Handler {
	return routineHandler{h.Handler.WithGroup(name)}
}
