package config

import (
	"fmt"

	"github.com/wardgate/wardgate/audit"
)

// Audit is the box's audit trail: IHE ATNA messages to the hospital's
// SIEM over syslog-TLS, and the FHIR AuditEvent form on the report API.
type Audit struct {
	Syslog AuditSyslog `yaml:"syslog,omitempty"`
	// Buffer is how many messages wait while the syslog receiver is away;
	// past it new ones are dropped and counted (wardgate_audit_dropped_total).
	Buffer int `yaml:"buffer,omitempty"`
	// Retain is how many recent events GET /v1/audit can return (kept in
	// memory; the SIEM is the durable store).
	Retain int `yaml:"retain,omitempty"`
}

// AuditSyslog is the RFC 5425 receiver. TLS is not optional.
type AuditSyslog struct {
	Address string `yaml:"address,omitempty"` // host:port, usually 6514
	CA      string `yaml:"ca,omitempty"`      // PEM CA that issued the receiver's certificate
	// ClientCert and ClientKey are this box's certificate, for receivers
	// that require one. Set both or neither.
	ClientCert string `yaml:"client_cert,omitempty"`
	ClientKey  string `yaml:"client_key,omitempty"`
	// ServerName is the name in the receiver's certificate, when it is not
	// the host of Address.
	ServerName string `yaml:"server_name,omitempty"`
}

// validateAudit checks audit: a receiver needs its CA; client cert and
// key go together; the bounds are positive.
func (c *Config) validateAudit(k *checker) {
	a := &c.Audit
	s := a.Syslog
	if s.Address != "" {
		k.hostPort("audit.syslog.address", s.Address, "siem.hospital.example:6514")
		k.required("audit.syslog.ca", s.CA, "the PEM CA of the syslog receiver's certificate (RFC 5425: syslog over TLS only)")
	} else if s.CA != "" || s.ClientCert != "" || s.ClientKey != "" || s.ServerName != "" {
		k.add("audit.syslog.address", "is required when other audit.syslog keys are set, e.g. siem.hospital.example:6514 (or remove audit.syslog)")
	}
	if (s.ClientCert == "") != (s.ClientKey == "") {
		k.add("audit.syslog.client_cert", "and audit.syslog.client_key go together: set both or neither")
	}
	for _, b := range []struct {
		path string
		v    *int
		def  int
	}{{"audit.buffer", &a.Buffer, audit.DefaultBuffer}, {"audit.retain", &a.Retain, audit.DefaultRetain}} {
		switch {
		case *b.v == 0:
			*b.v = b.def
		case *b.v < 0 || *b.v > 1_000_000:
			k.add(b.path, "%d is out of range; use 1..1000000 events (default %d)", *b.v, b.def)
		}
	}
}

// resolveAuditPaths makes the audit files absolute.
func (c *Config) resolveAuditPaths(abs func(*string)) {
	abs(&c.Audit.Syslog.CA)
	abs(&c.Audit.Syslog.ClientCert)
	abs(&c.Audit.Syslog.ClientKey)
}

func (c *Config) checkAuditFiles(k *checker) {
	k.file("audit.syslog.ca", c.Audit.Syslog.CA)
	k.file("audit.syslog.client_cert", c.Audit.Syslog.ClientCert)
	k.file("audit.syslog.client_key", c.Audit.Syslog.ClientKey)
}

// AuditConfig is the audit.Config this file describes (the TLS files are
// read here, so a bad one fails the start).
func (c *Config) AuditConfig() (audit.Config, error) {
	ac := audit.Config{Box: c.Box, Buffer: c.Audit.Buffer, Retain: c.Audit.Retain}
	s := c.Audit.Syslog
	if s.Address == "" {
		return ac, nil
	}
	tc, err := audit.TLSConfig(s.CA, s.ClientCert, s.ClientKey, s.ServerName)
	if err != nil {
		return ac, fmt.Errorf("audit.syslog: %w", err)
	}
	ac.Syslog = &audit.SyslogConfig{Address: s.Address, TLS: tc}
	return ac, nil
}
