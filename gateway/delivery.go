package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/records"
)

// deliveryRoutes is records.deliver with each route's TLS config.
func (d *Gateway) deliveryRoutes() ([]records.Route, error) { return DeliveryRoutes(d.cfg) }

// DeliveryRoutes is records.deliver with each route's TLS config (CA and
// client certificate) loaded from its files, or the deliver_url /
// deliver_mllp shorthand as its one route.
func DeliveryRoutes(cfg *config.Config) ([]records.Route, error) {
	routes := cfg.DeliveryRoutes()
	for i := range routes {
		r := cfg.Records.Deliver[i]
		tc, err := clientTLS(r.CA, r.ClientCert, r.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("records.deliver[%d] (%s): %w", i, r.Name, err)
		}
		routes[i].Endpoint.TLS = tc
	}
	return routes, nil
}

// clientTLS is a TLS client config trusting ca (nil: the system roots)
// and presenting cert/key if set; nil when neither is set.
func clientTLS(ca, cert, key string) (*tls.Config, error) {
	if ca == "" && cert == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: %s holds no PEM certificate", ca)
		}
		tc.RootCAs = pool
	}
	if cert != "" {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("client_cert/client_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// deliveryStatus is the delivery section of `wardgate status`.
func (d *Gateway) deliveryStatus() []control.DeliveryEndpoint {
	if d.relay == nil {
		return nil
	}
	var out []control.DeliveryEndpoint
	for _, h := range d.relay.Endpoints() {
		e := control.DeliveryEndpoint{Route: h.Route, Endpoint: h.Endpoint, State: control.DeliveryState(h.State), Since: h.Since,
			LastError: h.LastError, LastErrorAt: h.LastErrorAt, LastSuccess: h.LastSuccess, InFlight: h.InFlight}
		for k, v := range h.Outcomes {
			if k == "delivered" {
				e.Delivered += v
			} else {
				e.Failed += v
			}
		}
		out = append(out, e)
	}
	return out
}

// deliveryCollector exports each route's deliveries at scrape time.
type deliveryCollector struct{ r *records.Relay }

var (
	descDelivery = prometheus.NewDesc("wardgate_delivery_total",
		"Records from peers handed to this box's hospital systems, by route and outcome: delivered, or the refusal code (lan_endpoint_down, engine_error, ...). Route \"none\" with outcome no_route counts records no route took.",
		[]string{"route", "outcome"}, nil)
	descDeliverySeconds = prometheus.NewDesc("wardgate_delivery_seconds", "Time to hand a record to its route's endpoint and get its answer.", []string{"route"}, nil)
	descDeliveryUp      = prometheus.NewDesc("wardgate_delivery_endpoint_up",
		"1 when the route's endpoint is up, degraded or not used yet; 0 when its last delivery could not reach it (down).", []string{"route"}, nil)
)

func (c deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDelivery
	ch <- descDeliverySeconds
	ch <- descDeliveryUp
}

func (c deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.r.Endpoints() {
		for out, v := range h.Outcomes {
			ch <- prometheus.MustNewConstMetric(descDelivery, prometheus.CounterValue, float64(v), h.Route, out)
		}
		buckets := make(map[float64]uint64, len(records.DeliveryBuckets))
		for i, b := range records.DeliveryBuckets {
			buckets[b] = h.Buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(descDeliverySeconds, h.Count, h.Sum, buckets, h.Route)
		up := 1.0
		if h.State == records.EndpointDown {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descDeliveryUp, prometheus.GaugeValue, up, h.Route)
	}
	ch <- prometheus.MustNewConstMetric(descDelivery, prometheus.CounterValue, float64(c.r.NoRoute()), "none", "no_route")
}
