package records

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/hl7"
	"github.com/wardgate/wardgate/records/route"
)

// Delivery is the one-endpoint shorthand of Config.Routes (the config's
// deliver_url and deliver_mllp): every record goes to HTTPURL or to
// MLLPAddr. At most one of them is set.
type Delivery struct {
	HTTPURL  string // records are POSTed here with their Content-Type
	MLLPAddr string // host:port of an HL7 engine; an AA ACK is expected
	// FHIRBatch delivers the FHIR JSON records of each peer batch to
	// HTTPURL (a FHIR server's base URL) as one FHIR batch Bundle, and
	// takes each record's outcome from the batch-response (fhirbatch.go).
	FHIRBatch bool
}

// Connection is how MLLP delivery uses connections to an engine.
type Connection string

const (
	// Pooled keeps connections open between messages (the default).
	Pooled Connection = "pooled"
	// PerMessage opens a connection for each message and closes it after
	// the ACK: for engines that close after each reply.
	PerMessage Connection = "per-message"
)

// DefaultAckTimeout is how long an MLLP engine has to acknowledge a message.
const DefaultAckTimeout = 30 * time.Second

// Endpoint is one hospital system that takes received records.
type Endpoint struct {
	// URL is https://host/path, http://127.0.0.1:port/path (plain HTTP on
	// loopback only, except the deliver_url shorthand), mllp://host:port
	// or mllps://host:port.
	URL string
	// FHIRBatch (http and https) hands the FHIR JSON records of a peer
	// batch to URL, a FHIR base URL, as one batch Bundle.
	FHIRBatch bool
	// Connection (mllp and mllps): Pooled (default) or PerMessage.
	Connection Connection
	// AckTimeout (mllp and mllps) bounds the wait for an ACK (default 30s).
	AckTimeout time.Duration
	// TLS (https and mllps) holds the CA and the optional client
	// certificate; nil uses the system roots and no client certificate.
	TLS *tls.Config
	// anyHTTP lets plain http:// leave loopback: the deliver_url shorthand
	// kept its old rule.
	anyHTTP bool
}

// Route sends the records Match takes to Endpoint.
type Route struct {
	Name     string // names the route in metrics, status and logs
	Match    route.Match
	Endpoint Endpoint
}

// routes is Config.Routes, or the Delivery shorthand as one route.
func (cfg *Config) routes() []Route {
	if len(cfg.Routes) > 0 {
		return cfg.Routes
	}
	return cfg.Deliver.Routes()
}

// Routes is the shorthand as the one route it stands for (nil if unset).
func (d Delivery) Routes() []Route {
	switch {
	case d.HTTPURL != "":
		return []Route{{Name: "default", Match: route.Match{Content: route.Any}, Endpoint: Endpoint{URL: d.HTTPURL, FHIRBatch: d.FHIRBatch, anyHTTP: true}}}
	case d.MLLPAddr != "":
		return []Route{{Name: "default", Match: route.Match{Content: route.Any}, Endpoint: Endpoint{URL: "mllp://" + d.MLLPAddr}}}
	}
	return nil
}

// validate refuses both delivery targets at once, FHIR batches without an
// HTTP target, and targets that do not parse.
func (d *Delivery) validate() error {
	if d.HTTPURL != "" && d.MLLPAddr != "" {
		return errors.New("relay: config deliver sets both http_url and mllp_addr; choose one, or give Routes")
	}
	if d.FHIRBatch && d.HTTPURL == "" {
		return errors.New("relay: config deliver fhir_batch needs http_url (the FHIR server's base URL)")
	}
	if u := d.HTTPURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("relay: config deliver http_url %q must be an http:// or https:// URL with a host", u)
		}
	}
	if a := d.MLLPAddr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("relay: config deliver mllp_addr %q must be host:port: %w", a, err)
		}
	}
	return nil
}

// CheckEndpoint checks an endpoint's URL and options; the config checker
// and New use it, so that both refuse the same things.
func CheckEndpoint(e Endpoint) error {
	u, err := url.Parse(e.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("endpoint %q is not a URL with a host; write e.g. mllp://10.0.0.21:2575 or https://fhir.example.org/fhir", e.URL)
	}
	switch u.Scheme {
	case "http":
		if !e.anyHTTP && !loopbackHost(u.Hostname()) {
			return fmt.Errorf("endpoint %q is plain http off loopback; use https:// (records would cross the LAN unencrypted)", e.URL)
		}
	case "https":
	case "mllp", "mllps":
		if u.Port() == "" || u.Path != "" && u.Path != "/" {
			return fmt.Errorf("endpoint %q: an MLLP endpoint is mllp://host:port (no path)", e.URL)
		}
		if e.FHIRBatch {
			return fmt.Errorf("endpoint %q: fhir_batch is for an http(s) FHIR server", e.URL)
		}
	default:
		return fmt.Errorf("endpoint %q: scheme %q is not https, http (loopback), mllp or mllps", e.URL, u.Scheme)
	}
	switch e.Connection {
	case "", Pooled, PerMessage:
	default:
		return fmt.Errorf("endpoint %q: connection %q is not pooled or per-message", e.URL, e.Connection)
	}
	if e.AckTimeout < 0 {
		return fmt.Errorf("endpoint %q: ack timeout %s is negative", e.URL, e.AckTimeout)
	}
	return nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// endpoint is one route's hospital system, as the relay runs it.
type endpoint struct {
	log    *slog.Logger
	name   string
	cfg    Endpoint
	url    string
	rt     *http.Transport // http and https
	mllp   *mllpPool       // mllp and mllps
	health health
}

// newEndpoints builds each route's endpoint.
func newEndpoints(routes []Route, maxBody int64, log *slog.Logger) ([]*endpoint, route.Table, error) {
	var eps []*endpoint
	var table route.Table
	for i, rt := range routes {
		if err := CheckEndpoint(rt.Endpoint); err != nil {
			return nil, nil, fmt.Errorf("relay: config route %d (%s): %w", i+1, rt.Name, err)
		}
		if err := rt.Match.Check(); err != nil {
			return nil, nil, fmt.Errorf("relay: config route %d (%s): %w", i+1, rt.Name, err)
		}
		u, _ := url.Parse(rt.Endpoint.URL)
		ep := &endpoint{log: log, name: rt.Name, cfg: rt.Endpoint, url: rt.Endpoint.URL}
		switch u.Scheme {
		case "mllp", "mllps":
			var tc *tls.Config
			if u.Scheme == "mllps" {
				tc = tlsFor(rt.Endpoint.TLS, u.Hostname())
			}
			ep.mllp = newMLLPPool(u.Host, maxBody, tc, rt.Endpoint)
		default:
			ep.rt = &http.Transport{
				MaxIdleConnsPerHost: 512,
				MaxIdleConns:        1024,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
				TLSClientConfig:     rt.Endpoint.TLS,
			}
		}
		eps = append(eps, ep)
		table = append(table, rt.Match)
	}
	return eps, table, nil
}

// tlsFor is c (or an empty config) with the server name set.
func tlsFor(c *tls.Config, host string) *tls.Config {
	if c == nil {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		c = c.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

func (ep *endpoint) close() {
	if ep.rt != nil {
		ep.rt.CloseIdleConnections()
	}
	if ep.mllp != nil {
		ep.mllp.close()
	}
}

// pick returns the endpoint of the first route that takes the record.
func (r *Relay) pick(contentType string, body []byte) (*endpoint, route.Record, error) {
	var rec route.Record
	if r.classify {
		rec = route.Classify(contentType, body)
	}
	i, ok := r.table.Pick(rec)
	if !ok {
		if len(r.eps) == 0 {
			return nil, rec, newDeliveryError(codeNoRoute, "", errors.New("this box has no delivery route configured (records.deliver)"))
		}
		return nil, rec, newDeliveryError(codeNoRoute, "", fmt.Errorf("no route of records.deliver takes a %s record (%s)", rec.Kind, contentType))
	}
	return r.eps[i], rec, nil
}

// deliver hands a received record to the hospital system its route names, from memory.
func (r *Relay) deliver(ctx context.Context, e *proof.Entry, body []byte) error {
	ep, _, err := r.pick(e.ContentType, body)
	if err != nil {
		r.stats.noRoute.Add(1)
		return err
	}
	done := ep.begin()
	if ep.mllp != nil {
		err = ep.deliverMLLP(ctx, body)
	} else {
		err = ep.deliverHTTP(ctx, e, body)
	}
	done(err)
	return err
}

func (ep *endpoint) deliverHTTP(ctx context.Context, e *proof.Entry, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return newDeliveryError(codeDelivery, ep.name, fmt.Errorf("%s: %w", ep.url, err))
	}
	// Canonical keys set directly, and the transport without the client's
	// redirect machinery (which copies every request's headers): delivery
	// is the receiving box's costliest step per record.
	req.Header = http.Header{
		"Content-Type":    {e.ContentType},
		"Wardgate-Sender": {e.Sender},
		"Wardgate-Digest": {hex.EncodeToString(e.Digest[:])},
	}
	resp, err := ep.rt.RoundTrip(req)
	if err != nil {
		return newDeliveryError(codeDelivery, ep.name, fmt.Errorf("POST %s: %w", ep.url, err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return httpRefusal(ep.name, resp.StatusCode, fmt.Errorf("POST %s answered %s", ep.url, resp.Status))
	}
	return nil
}

// httpRefusal names an HTTP endpoint's non-2xx answer: a 4xx refuses the
// record (resending it will not help), anything else is the system failing.
func httpRefusal(route string, status int, detail error) error {
	if status/100 == 4 {
		return newDeliveryError(codeRejected, route, detail).withStatus(status)
	}
	return newDeliveryError(codeDelivery, route, detail).withStatus(status)
}

func (ep *endpoint) deliverMLLP(ctx context.Context, body []byte) error {
	m, err := hl7.CheckFrameable(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotMLLP, err)
	}
	a, err := ep.mllp.exchange(ctx, m, body)
	if err != nil {
		return ep.mllpFailure(err)
	}
	if code, ok := ackCodes[a.Code]; ok {
		// MSA-3 is the engine's own text and may quote the message: it
		// stays on this box (logged at DEBUG), never crosses to the sender.
		return newDeliveryError(code, ep.name, fmt.Errorf("MLLP %s answered %s: %s", ep.mllp.addr, a.Code, a.Text))
	}
	return nil
}

// ackCodes names each refusing HL7 acknowledgement code (original mode
// AE/AR, enhanced mode commit CE/CR).
var ackCodes = map[string]string{
	"AE": codeEngineError, "AR": codeEngineRejected, "CE": codeEngineCommitError, "CR": codeEngineCommitRejected,
}

// mllpFailure names an exchange that got no usable ACK.
func (ep *endpoint) mllpFailure(err error) error {
	detail := fmt.Errorf("MLLP %s: %w", ep.mllp.addr, err)
	var ne net.Error
	switch {
	case errors.Is(err, hl7.ErrAckMismatch):
		return newDeliveryError(codeAckMismatch, ep.name, detail)
	case errors.Is(err, errAckTimeout), errors.As(err, &ne) && ne.Timeout():
		return newDeliveryError(codeAckTimeout, ep.name, detail)
	case errors.Is(err, hl7.ErrBadHL7), errors.Is(err, hl7.ErrBadFrame):
		return newDeliveryError(codeBadAck, ep.name, detail)
	}
	return newDeliveryError(codeDelivery, ep.name, detail)
}

// Probe connects to each route's endpoint (TCP, and the TLS handshake for
// https and mllps) and returns a line for each one this box cannot reach
// now: `wardgated --check-config` prints them as warnings (an endpoint
// may be down for maintenance while its route is right).
func Probe(ctx context.Context, routes []Route) []string {
	out := make([]string, len(routes))
	var wg sync.WaitGroup
	for i, rt := range routes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := probe(ctx, rt.Endpoint); err != nil {
				out[i] = fmt.Sprintf("delivery route %q: endpoint %s is unreachable from this box now: %v", rt.Name, rt.Endpoint.URL, err)
			}
		}()
	}
	wg.Wait()
	var lines []string
	for _, l := range out {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func probe(ctx context.Context, e Endpoint) error {
	u, err := url.Parse(e.URL)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"https": "443", "http": "80"}[u.Scheme])
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer c.Close()
	if u.Scheme == "https" || u.Scheme == "mllps" {
		tc := tls.Client(c, tlsFor(e.TLS, u.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
	}
	return nil
}
