package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// lanTLS is the hospital systems' side of a box's mTLS records intake:
// the EHR client certificate `wardgated --dev-consortium` writes
// (DIR/api/ehr.pem) and the dev CA that also signs each box's server
// certificate.
func (c *Cluster) lanTLS() (*tls.Config, error) { return c.devTLS("ehr") }

// devTLS is a client TLS config with the dev client certificate
// DIR/api/<name>.pem, trusting the dev CA.
func (c *Cluster) devTLS(name string) (*tls.Config, error) {
	dir := filepath.Join(c.spec.Dir, "api")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("cluster: dev client certificate %s: %w", name, err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("cluster: dev CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, errors.New("cluster: dev CA: no certificate in ca.pem")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// lanClients caches one HTTP client per box (kept connections).
var lanClients sync.Map // *Box -> *http.Client

// LANClient is the HTTP client an EHR uses for b's records intake: with
// the dev EHR client certificate when the intake is mTLS.
func (b *Box) LANClient() *http.Client {
	if b.lanTLS == nil {
		return http.DefaultClient
	}
	if c, ok := lanClients.Load(b); ok {
		return c.(*http.Client)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: b.lanTLS.Clone(), MaxIdleConnsPerHost: 256}}
	actual, _ := lanClients.LoadOrStore(b, c)
	return actual.(*http.Client)
}

// dialMLLP connects to b's MLLP intake (MLLPS when the intake is mTLS).
func (b *Box) dialMLLP(ctx context.Context) (net.Conn, error) {
	if b.lanTLS != nil {
		d := tls.Dialer{Config: b.lanTLS.Clone()}
		return d.DialContext(ctx, "tcp", b.MLLP())
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", b.MLLP())
}

// LANTLSConfig is the EHR's TLS config for b's records intake (a copy),
// or nil when the intake is plain HTTP on loopback.
func (b *Box) LANTLSConfig() *tls.Config {
	if b.lanTLS == nil {
		return nil
	}
	return b.lanTLS.Clone()
}

// MetricsURL is b's metrics endpoint; MetricsClient scrapes it (with the
// security team's certificate when metrics are served over mTLS).
func (b *Box) MetricsURL() string {
	if b.metricsTLS != nil {
		return "https://" + b.Metrics + "/metrics"
	}
	return "http://" + b.Metrics + "/metrics"
}

// MetricsClient is the HTTP client for MetricsURL.
func (b *Box) MetricsClient() *http.Client {
	if b.metricsTLS == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: b.metricsTLS.Clone()}}
}
