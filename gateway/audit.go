package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/audit"
	"github.com/wardgate/wardgate/records"
)

// The box's audit trail (package audit): the hooks the daemon's steps
// call. Each is one line at its call site and never blocks: audit.Log.Emit
// queues or drops. Events name boxes, report ids, codes and digests only.

// openAudit builds the audit log from audit.* and records the
// configuration load (by the digest of the effective configuration).
func (d *Gateway) openAudit() error {
	ac, err := d.cfg.AuditConfig()
	if err != nil {
		return err
	}
	ac.Logger = d.log
	if d.audit, err = audit.New(ac); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	d.audit.Start(d.bg)
	d.closers = append(d.closers, d.audit.Close)
	d.audit.Emit(audit.Event{Kind: audit.ConfigLoad, Digest: configDigest(d.cfg)})
	return nil
}

// configDigest is the SHA-256 of the validated configuration as YAML: the
// same settings give the same digest whatever the file's comments.
func configDigest(c any) [32]byte {
	b, err := yaml.Marshal(c)
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}

// auditQuarantine records that the box runs on ephemeral keys.
func (d *Gateway) auditQuarantine() {
	if d.quarantine != "" {
		d.audit.Emit(audit.Event{Kind: audit.Quarantine, Outcome: audit.SeriousFail, Code: "keys-sealed-to-other-state"})
	}
}

// auditVerdict records an appraisal of peer.
func (d *Gateway) auditVerdict(peer string, v *attest.Verdict) {
	e := audit.Event{Kind: audit.AttestationPass, Peer: peer, Object: v.ReportID()}
	if !v.Passed() {
		e.Kind, e.Outcome = audit.AttestationFail, audit.MinorFailure
		if rs := v.Reasons(); len(rs) > 0 {
			e.Code = rs[0].Code
		}
	}
	d.audit.Emit(e)
}

// The peer events peers.go records (it need not import audit).
const (
	admissionEvent  = audit.Admission
	revocationEvent = audit.Revocation
)

// auditPeer records an admission or revocation of peer; code is the
// revocation's reason (box-generated text, no record content).
func (d *Gateway) auditPeer(kind audit.Kind, peer, reportID, code string) {
	d.audit.Emit(audit.Event{Kind: kind, Peer: peer, Object: reportID, Code: truncate(code, 200)})
}

// auditRecord is the relay's OnRecord hook.
func (d *Gateway) auditRecord(ev records.RecordEvent) {
	e := audit.Event{Peer: d.configuredPeer(ev.Peer), Digest: ev.Digest}
	switch ev.Kind {
	case records.RecordSent:
		e.Kind = audit.RecordSent
	case records.RecordReceived:
		e.Kind = audit.RecordReceived
	default:
		e.Kind, e.Outcome, e.Code = audit.RecordRefused, audit.MinorFailure, refusalCode(ev.Err)
	}
	d.audit.Emit(e)
}

// configuredPeer is name if it is one of this box's peers, else "": a
// refused record's To: is what a hospital system wrote, and may hold
// anything (a patient's number typed into the wrong field).
func (d *Gateway) configuredPeer(name string) string {
	if _, ok := d.peers[name]; ok {
		return name
	}
	return ""
}

// refusalCode names a refusal by its sentinel only: a refusal's message
// may quote what the sender wrote, so it never enters the trail.
func refusalCode(err error) string {
	for _, s := range []struct {
		err  error
		code string
	}{
		{records.ErrNotAdmitted, "not-admitted"}, {records.ErrVerdictExpired, "verdict-expired"},
		{records.ErrTooLarge, "too-large"}, {records.ErrBadRequest, "bad-request"},
		{records.ErrPeerUnreachable, "peer-unreachable"}, {records.ErrDeliveryFailed, "delivery-failed"},
		{records.ErrPeerRefused, "peer-refused"},
	} {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return "refused"
}

// auditControl wraps the control socket's handler: each CLI request is
// recorded with the caller's uid.
func (d *Gateway) auditControl(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor := "control-socket"
		if uid, ok := r.Context().Value(peerUIDKey{}).(uint32); ok {
			actor = fmt.Sprintf("uid:%d", uid)
		}
		d.audit.Emit(audit.Event{Kind: audit.ControlAccess, Actor: actor, Object: r.Method + " " + r.URL.Path, Code: r.Method})
		h.ServeHTTP(w, r)
	})
}

type peerUIDKey struct{}

// auditLog is the Gateway's field type (daemon.go need not import audit).
type auditLog = audit.Log

// controlConnContext keeps the uid of the process on the other end of a
// control socket connection (SO_PEERCRED), for auditControl.
func controlConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerUIDKey{}, cred.Uid)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
