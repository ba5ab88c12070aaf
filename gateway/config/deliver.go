package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"

	"github.com/wardgate/wardgate/records"
	"github.com/wardgate/wardgate/records/route"
)

// DeliverRoute is one entry of records.deliver: the records it matches
// go to its endpoint. The first route that matches a record takes it.
//
//	records:
//	  deliver:
//	    - name: adt-engine
//	      match: {content: hl7v2, receiving_app: ADT}
//	      endpoint: mllps://10.1.0.21:2575
//	      ca: /etc/wardgate/engine-ca.pem
//	      connection: per-message
//	    - name: fhir
//	      match: {content: fhir-json}
//	      endpoint: https://fhir.hospital.example/fhir
//	      fhir_batch: true
type DeliverRoute struct {
	// Name labels the route in metrics, `wardgate status` and logs
	// (default route-N).
	Name  string       `yaml:"name,omitempty"`
	Match DeliverMatch `yaml:"match,omitempty"`
	// Endpoint is https://..., http://127.0.0.1:port/... (loopback only),
	// mllp://host:port or mllps://host:port.
	Endpoint string `yaml:"endpoint"`
	// FHIRBatch: the endpoint is a FHIR base URL that takes batch Bundles.
	FHIRBatch bool `yaml:"fhir_batch,omitempty"`
	// Connection (MLLP): pooled (default) or per-message, for engines
	// that close the connection after each reply.
	Connection string `yaml:"connection,omitempty"`
	// AckTimeout (MLLP): how long the engine has to answer (default 30s).
	AckTimeout string `yaml:"ack_timeout,omitempty"`
	// CA is the PEM CA of the endpoint's certificate (https, mllps;
	// default the system roots); ClientCert and ClientKey are this box's
	// certificate for endpoints that ask for one. Set both or neither.
	CA         string `yaml:"ca,omitempty"`
	ClientCert string `yaml:"client_cert,omitempty"`
	ClientKey  string `yaml:"client_key,omitempty"`

	ackTimeout time.Duration
}

// DeliverMatch is what a route takes; empty keys match anything.
type DeliverMatch struct {
	// Content is fhir-json, fhir-xml, hl7v2, cda or any (default any).
	Content string `yaml:"content,omitempty"`
	// ReceivingApp and ReceivingFacility match HL7 MSH-5 and MSH-6
	// (first component); content hl7v2 only.
	ReceivingApp      string `yaml:"receiving_app,omitempty"`
	ReceivingFacility string `yaml:"receiving_facility,omitempty"`
	// ResourceType matches a FHIR resource type; fhir-json or fhir-xml only.
	ResourceType string `yaml:"resource_type,omitempty"`
}

// routeNameRE: a route name is a metric label value and a status column.
var routeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (m DeliverMatch) match() route.Match {
	k := route.Kind(m.Content)
	if k == "" {
		k = route.Any
	}
	return route.Match{Content: k, ReceivingApp: m.ReceivingApp, ReceivingFacility: m.ReceivingFacility, ResourceType: m.ResourceType}
}

func (r *DeliverRoute) endpoint() records.Endpoint {
	return records.Endpoint{URL: r.Endpoint, FHIRBatch: r.FHIRBatch, Connection: records.Connection(r.Connection), AckTimeout: r.ackTimeout}
}

// resolveDeliverPaths makes the routes' TLS files absolute.
func (c *Config) resolveDeliverPaths(abs func(*string)) {
	for i := range c.Records.Deliver {
		r := &c.Records.Deliver[i]
		abs(&r.CA)
		abs(&r.ClientCert)
		abs(&r.ClientKey)
	}
}

// validateDeliver checks records.deliver: each route's match, endpoint
// and TLS files; no route shadowed by an earlier one; and not together
// with the deliver_url / deliver_mllp shorthands.
func (c *Config) validateDeliver(k *checker) {
	rs := c.Records.Deliver
	if len(rs) == 0 {
		return
	}
	if c.Records.DeliverURL != "" || c.Records.DeliverMLLP != "" {
		k.add("records.deliver", "is set together with records.deliver_url or deliver_mllp (the one-route shorthands); move them into records.deliver as routes")
	}
	k.listLen("records.deliver", len(rs))
	names := map[string]int{}
	for i := range rs {
		c.validateDeliverRoute(k, i, names)
	}
	var table route.Table
	for _, r := range rs {
		table = append(table, r.Match.match())
	}
	for _, f := range table.Check() {
		if f.Shadowed {
			k.add(fmt.Sprintf("records.deliver[%d]", f.Route), "route %q is never used: route %q (records.deliver[%d]) comes first and takes every record it matches; move the narrower route up or remove it",
				rs[f.Route].Name, rs[f.By].Name, f.By)
		}
	}
}

func (c *Config) validateDeliverRoute(k *checker, i int, names map[string]int) {
	r := &c.Records.Deliver[i]
	path := fmt.Sprintf("records.deliver[%d]", i)
	if r.Name == "" {
		r.Name = fmt.Sprintf("route-%d", i+1)
	}
	if !routeNameRE.MatchString(r.Name) {
		k.add(path+".name", "%q must be 1-63 lower-case letters, digits, - or _ (it labels metrics)", r.Name)
	} else if j, dup := names[r.Name]; dup {
		k.add(path+".name", "%q is already the name of records.deliver[%d]; names label metrics, keep them unique", r.Name, j)
	}
	names[r.Name] = i
	if err := r.Match.match().Check(); err != nil {
		k.add(path+".match", "%v", err)
	}
	r.ackTimeout = k.duration(path+".ack_timeout", r.AckTimeout, records.DefaultAckTimeout, 100*time.Millisecond)
	if !k.required(path+".endpoint", r.Endpoint, "the system that takes these records, e.g. mllp://10.1.0.21:2575 or https://fhir.hospital.example/fhir") {
		return
	}
	if err := records.CheckEndpoint(r.endpoint()); err != nil {
		k.add(path+".endpoint", "%v", err)
		return
	}
	u, _ := url.Parse(r.Endpoint)
	tlsScheme := u.Scheme == "https" || u.Scheme == "mllps"
	if (r.CA != "" || r.ClientCert != "") && !tlsScheme {
		k.add(path+".ca", "ca, client_cert and client_key are for https:// and mllps:// endpoints; %q is %s", r.Endpoint, u.Scheme)
	}
	if (r.ClientCert == "") != (r.ClientKey == "") {
		k.add(path+".client_cert", "and client_key go together: set both or neither")
	}
	if r.Connection != "" && u.Scheme != "mllp" && u.Scheme != "mllps" {
		k.add(path+".connection", "is for mllp:// and mllps:// endpoints")
	}
}

// checkDeliverFiles checks the routes' TLS files exist (--check-config).
func (c *Config) checkDeliverFiles(k *checker) {
	for i, r := range c.Records.Deliver {
		k.file(fmt.Sprintf("records.deliver[%d].ca", i), r.CA)
		k.file(fmt.Sprintf("records.deliver[%d].client_cert", i), r.ClientCert)
		k.file(fmt.Sprintf("records.deliver[%d].client_key", i), r.ClientKey)
	}
}

// deliverWarnings are the insecure delivery settings that still work:
// plain http off loopback in the deliver_url shorthand.
func (c *Config) deliverWarnings() []string {
	var w []string
	if u, err := url.Parse(c.Records.DeliverURL); err == nil && u.Scheme == "http" && !LoopbackOnly(net.JoinHostPort(u.Hostname(), "80")) {
		w = append(w, "records.deliver_url: plain http off loopback: received records cross the LAN unencrypted; use https://")
	}
	return w
}

// RouteWarnings are routes that work but may surprise: a route that takes
// some records an earlier one takes first. --check-config prints them and
// the daemon logs them at start.
func (c *Config) RouteWarnings() []string {
	var w []string
	rs := c.Records.Deliver
	var table route.Table
	for _, r := range rs {
		table = append(table, r.Match.match())
	}
	for _, f := range table.Check() {
		if !f.Shadowed {
			w = append(w, fmt.Sprintf("records.deliver[%d]: route %q overlaps route %q (records.deliver[%d]), which comes first and takes the records both match", f.Route, rs[f.Route].Name, rs[f.By].Name, f.By))
		}
	}
	return w
}

// DeliveryRoutes is the relay's route table without TLS (the gateway adds
// each route's TLS config from its files): records.deliver, or the
// shorthand (nil, and the relay uses its Delivery).
func (c *Config) DeliveryRoutes() []records.Route {
	var out []records.Route
	for i := range c.Records.Deliver {
		r := &c.Records.Deliver[i]
		out = append(out, records.Route{Name: r.Name, Match: r.Match.match(), Endpoint: r.endpoint()})
	}
	return out
}
