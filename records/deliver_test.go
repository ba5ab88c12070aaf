package records

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardgate/wardgate/records/hl7"
	"github.com/wardgate/wardgate/records/route"
)

// routedPair: city-general delivers HL7 ADT to one engine, other HL7 to a
// second, FHIR Observations to one HTTP endpoint and other FHIR JSON to a
// FHIR server taking batch Bundles; CDA has no route.
type routedPair struct {
	a, b          *recBox
	adt, lab      *scriptEngine
	obs           *lanEndpoint
	fhirSrv       *fhirServer
	obsURL, fhirU string
}

func newRoutedPair(t *testing.T) *routedPair {
	t.Helper()
	p := &routedPair{obs: &lanEndpoint{}, fhirSrv: &fhirServer{got: map[string]int{}}}
	aa := func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") }
	p.adt, p.lab = &scriptEngine{reply: aa}, &scriptEngine{reply: aa}
	p.obsURL = "http://" + serveHTTP(t, p.obs) + "/internal/ehr-obs"
	p.fhirU = "http://" + serveHTTP(t, p.fhirSrv) + "/fhir"
	routes := []Route{
		{Name: "adt", Match: route.Match{Content: route.HL7v2, ReceivingApp: "HIS"}, Endpoint: Endpoint{URL: "mllp://" + p.adt.serve(t)}},
		{Name: "lab", Match: route.Match{Content: route.HL7v2}, Endpoint: Endpoint{URL: "mllp://" + p.lab.serve(t), Connection: PerMessage}},
		{Name: "obs", Match: route.Match{Content: route.FHIRJSON, ResourceType: "Observation"}, Endpoint: Endpoint{URL: p.obsURL}},
		{Name: "fhir", Match: route.Match{Content: route.FHIRJSON}, Endpoint: Endpoint{URL: p.fhirU, FHIRBatch: true}},
	}
	n := &recNet{addrs: map[string]string{}}
	p.a = newRecBox(t, n, "st-mary", Delivery{}, nil)
	p.b = newRecBox(t, n, "city-general", Delivery{}, func(c *Config) { c.Routes = routes })
	admit(t, fixture(t), p.a, p.b)
	return p
}

// A mixed stream (HL7 for two applications, FHIR of two resource types,
// a CDA document) from one peer reaches each hospital system by route,
// once each; the record no route takes is refused as no_route, not
// retryable, and counted.
func TestRoutesMixedStream(t *testing.T) {
	p := newRoutedPair(t)
	lab := strings.Replace(strings.Replace(adtA01, "|HIS|", "|LAB|", 1), "ADT^A01^ADT_A01", "ORU^R01^ORU_R01", 1)
	type rec struct {
		ct, body string
	}
	var recs []rec
	for i := range 5 {
		id := string(rune('A'+i)) + "1"
		recs = append(recs,
			rec{hl7.HL7ContentType, withControlID("ADT" + id)},
			rec{hl7.HL7ContentType, strings.Replace(lab, "MSG00001", "LAB"+id, 1)},
			rec{"application/fhir+json", `{"resourceType":"Observation","id":"` + id + `"}`},
			rec{"application/fhir+json", `{"resourceType":"Patient","id":"` + id + `"}`})
	}
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, out := post(t, p.a, "city-general", r.ct, []byte(r.body)); st != 200 {
				t.Errorf("%.40s: %d %s", r.body, st, out)
			}
		}()
	}
	wg.Wait()
	if p.adt.count() != 5 || p.lab.count() != 5 || p.obs.count() != 5 {
		t.Fatalf("deliveries: adt engine %d, lab engine %d, observations %d; want 5 each", p.adt.count(), p.lab.count(), p.obs.count())
	}
	for _, b := range p.adt.got {
		if !strings.Contains(string(b), "|HIS|") {
			t.Fatalf("adt engine got a message for another application: %q", b)
		}
	}
	for i := range 5 {
		id := string(rune('A'+i)) + "1"
		if n := p.fhirSrv.times([]byte(`{"resourceType":"Patient","id":"` + id + `"}`)); n != 1 {
			t.Fatalf("FHIR server got Patient %s %d times", id, n)
		}
	}
	cda := `<ClinicalDocument xmlns="urn:hl7-org:v3"><title>discharge</title></ClinicalDocument>`
	st, out := post(t, p.a, "city-general", "application/cda+xml", []byte(cda))
	wantRefusal(t, st, out, http.StatusBadGateway, codeNoRoute, "no delivery route")
	var pe peerError
	json.Unmarshal(out, &pe)
	if pe.Retryable == nil || *pe.Retryable || pe.Box != "city-general" {
		t.Fatalf("no_route refusal: box %q retryable %v; want city-general, false", pe.Box, pe.Retryable)
	}
	if n := p.b.r.NoRoute(); n != 1 {
		t.Fatalf("no_route counted %d times, want 1", n)
	}
	for _, h := range p.b.r.Endpoints() {
		if h.State != EndpointUp || h.Outcomes[outcomeDelivered] != 5 || h.LastSuccess.IsZero() || h.InFlight != 0 {
			t.Fatalf("route %s health %+v, want up with 5 delivered", h.Route, h)
		}
	}
}

// The sending hospital learns the refusal code, the receiving box and
// whether a retry helps; never the receiver's endpoint URL or address,
// nor the engine's own text; and the refusal's prefix appears once.
func TestSenderErrorHidesReceiverInternals(t *testing.T) {
	const secret = "SECRET-ENGINE-TEXT-PATIENT-7"
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte {
		var b strings.Builder
		hl7.WriteFrame(&b, hl7.BuildAck(m, "AR", secret, time.Now()))
		return []byte(b.String())
	}}
	engAddr := eng.serve(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String() + "/internal/ehr-intake"
	ln.Close() // the EHR is down
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, nil)
	b := newRecBox(t, n, "city-general", Delivery{}, func(c *Config) {
		c.Routes = []Route{
			{Name: "engine", Match: route.Match{Content: route.HL7v2}, Endpoint: Endpoint{URL: "mllp://" + engAddr}},
			{Name: "ehr", Match: route.Match{Content: route.Any}, Endpoint: Endpoint{URL: downURL}},
		}
	})
	admit(t, fixture(t), a, b)
	for _, tc := range []struct {
		name, ct, body, code string
		retry                bool
	}{
		{"EHR down", "application/fhir+json", `{"resourceType":"Patient","id":"x"}`, codeDelivery, true},
		{"engine AR", hl7.HL7ContentType, adtA01, codeEngineRejected, false},
	} {
		st, out := post(t, a, "city-general", tc.ct, []byte(tc.body))
		wantRefusal(t, st, out, http.StatusBadGateway, tc.code, `box "city-general"`)
		var pe peerError
		json.Unmarshal(out, &pe)
		for _, internal := range []string{"127.0.0.1", engAddr, downURL, "/internal/", secret, "mllp://", "route"} {
			if strings.Contains(string(out), internal) {
				t.Errorf("%s: the sender's error names %q: %s", tc.name, internal, out)
			}
		}
		if c := strings.Count(pe.Error, ErrDeliveryFailed.Error()); c != 1 {
			t.Errorf("%s: prefix %q appears %d times: %s", tc.name, ErrDeliveryFailed, c, pe.Error)
		}
		if pe.Retryable == nil || *pe.Retryable != tc.retry {
			t.Errorf("%s: retryable %v, want %v", tc.name, pe.Retryable, tc.retry)
		}
	}
	// The receiving box keeps the detail: its endpoint health names the code.
	hs := b.r.Endpoints()
	if hs[0].State != EndpointDegraded || hs[0].LastError != codeEngineRejected || hs[1].State != EndpointDown || hs[1].LastError != codeDelivery {
		t.Fatalf("receiver health: %+v", hs)
	}
}

// An engine that closes the connection after each reply (as
// node-hl7-server documents) and one that is slow to answer: with pooled
// connections each message is still delivered once and answered by its
// own ACK; an engine that never answers is refused as ack_timeout within
// the ACK timeout.
func TestMLLPEngineBehaviours(t *testing.T) {
	closing := &closingEngine{}
	addr := closing.serve(t)
	silent := &scriptEngine{reply: func(int, *hl7.MSH) []byte { return nil }}
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, nil)
	b := newRecBox(t, n, "city-general", Delivery{}, func(c *Config) {
		c.Routes = []Route{
			{Name: "closing", Match: route.Match{Content: route.HL7v2, ReceivingApp: "HIS"}, Endpoint: Endpoint{URL: "mllp://" + addr}},
			{Name: "silent", Match: route.Match{Content: route.HL7v2}, Endpoint: Endpoint{URL: "mllp://" + silent.serve(t), AckTimeout: 200 * time.Millisecond}},
		}
	})
	admit(t, fixture(t), a, b)
	for i := range 20 {
		id := "CLS" + string(rune('A'+i))
		if st, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(withControlID(id))); st != 200 {
			t.Fatalf("message %s: %d %s", id, st, out)
		}
		time.Sleep(5 * time.Millisecond) // let the engine's close land on the idle connection
	}
	if got := closing.count(); got != 20 {
		t.Fatalf("closing engine got %d messages for 20 records", got)
	}
	t0 := time.Now()
	silentMsg := strings.Replace(withControlID("SIL1"), "|HIS|", "|LAB|", 1)
	st, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(silentMsg))
	wantRefusal(t, st, out, http.StatusBadGateway, codeAckTimeout, "did not acknowledge")
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("ack timeout of 200ms took %s", d)
	}
	if len(b.l.Lookup(sha256.Sum256([]byte(silentMsg)))) != 0 {
		t.Fatal("a record without an ACK was journaled as delivered")
	}
}

// closingEngine answers each message AA and closes the connection.
type closingEngine struct {
	mu  sync.Mutex
	got []string
}

func (e *closingEngine) serve(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				msg, err := hl7.ReadFrame(bufio.NewReader(c), 1<<20)
				if err != nil {
					return
				}
				m, _ := hl7.ParseMSH(msg)
				e.mu.Lock()
				e.got = append(e.got, m.ControlID)
				e.mu.Unlock()
				c.Write(ackFrame(m, "AA"))
			}()
		}
	}()
	return ln.Addr().String()
}

func (e *closingEngine) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

// An engine that sends a stray ACK on an idle pooled connection (as
// node-hl7-server was seen to): the box finds it before reusing the
// connection, so the next record goes once, on a fresh connection, and
// is answered by its own ACK.
func TestMLLPStaleAckOnIdleConnection(t *testing.T) {
	eng := &scriptEngine{
		reply: func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") },
		late: func(_ int, m *hl7.MSH) []byte {
			stale := *m
			stale.ControlID = "STALE-" + m.ControlID
			return ackFrame(&stale, "AA")
		},
	}
	a, _ := mllpPair(t, eng)
	for _, id := range []string{"IDLE1", "IDLE2", "IDLE3"} {
		if st, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(withControlID(id))); st != 200 {
			t.Fatalf("%s: %d %s", id, st, out)
		}
		time.Sleep(80 * time.Millisecond) // the stray ACK lands while the connection idles
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.got) != 3 {
		t.Fatalf("engine got %d messages for 3 records (a stale ACK cost a resend)", len(eng.got))
	}
}

// While the EHR is down, the receiving box warns once, naming the route
// and its endpoint (its own log), and says once that it is back; the
// records refused meanwhile are not a WARN line each, on either box.
func TestDeliveryFailuresWarnOncePerStateChange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := map[string]*syncBuffer{"st-mary": {}, "city-general": {}}
	logTo := func(name string) func(*Config) {
		return func(c *Config) {
			c.Logger = slog.New(slog.NewTextHandler(logs[name], &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
	}
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, logTo("st-mary"))
	b := newRecBox(t, n, "city-general", Delivery{HTTPURL: "http://" + addr + "/ehr"}, logTo("city-general"))
	admit(t, fixture(t), a, b)
	for i := range 5 {
		st, out := post(t, a, "city-general", "application/fhir+json", fmt.Appendf(nil, `{"resourceType":"Patient","id":"down-%d"}`, i))
		wantRefusal(t, st, out, http.StatusBadGateway, codeDelivery, "")
	}
	if ln, err = net.Listen("tcp", addr); err != nil {
		t.Fatalf("re-listening on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: &lanEndpoint{}}
	go srv.Serve(ln)
	defer srv.Close()
	for i := range 3 {
		if st, out := post(t, a, "city-general", "application/fhir+json", fmt.Appendf(nil, `{"resourceType":"Patient","id":"up-%d"}`, i)); st != 200 {
			t.Fatalf("after recovery: %d %s", st, out)
		}
	}
	got := logs["city-general"].String()
	if c := strings.Count(got, "level=WARN"); c != 1 || !strings.Contains(got, `msg="delivery endpoint down"`) || !strings.Contains(got, "endpoint=http://"+addr+"/ehr") {
		t.Fatalf("receiver: %d WARN lines, want one naming the endpoint:\n%s", c, got)
	}
	if c := strings.Count(got, `msg="delivery endpoint up"`); c != 1 {
		t.Fatalf("receiver: %d 'up' lines, want 1:\n%s", c, got)
	}
	if sent := logs["st-mary"].String(); strings.Contains(sent, "level=WARN") {
		t.Fatalf("sender warned per refused record:\n%s", sent)
	}
}

// --check-config's probe names each route whose endpoint this box cannot
// reach, and only those.
func TestProbeRoutes(t *testing.T) {
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") }}
	up := eng.serve(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	lines := Probe(t.Context(), []Route{
		{Name: "engine", Endpoint: Endpoint{URL: "mllp://" + up}},
		{Name: "ehr", Endpoint: Endpoint{URL: "http://" + down + "/in"}},
		{Name: "secure", Endpoint: Endpoint{URL: "mllps://" + up}}, // not TLS
	})
	if len(lines) != 2 || !strings.Contains(lines[0], `route "ehr"`) || !strings.Contains(lines[1], `route "secure"`) || !strings.Contains(lines[1], "TLS") {
		t.Fatalf("probe: %q", lines)
	}
}

// Routes to mllps:// and https:// endpoints that trust only the hospital's
// CA and ask for a client certificate: the box delivers with the route's
// CA and certificate; a route without the certificate is refused by the
// endpoint, so the record is not delivered (lan_endpoint_down).
func TestTLSEndpoints(t *testing.T) {
	pki := newTestPKI(t)
	server := &tls.Config{Certificates: []tls.Certificate{pki.leaf(t, "engine.city-general", x509.ExtKeyUsageServerAuth)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool(), MinVersion: tls.VersionTLS12}
	eng := &scriptEngine{reply: func(_ int, m *hl7.MSH) []byte { return ackFrame(m, "AA") }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		tln := tls.NewListener(ln, server)
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go eng.conn(c)
		}
	}()
	ehr := &lanEndpoint{}
	hs := httptest.NewUnstartedServer(ehr)
	hs.TLS = server.Clone()
	hs.StartTLS()
	t.Cleanup(hs.Close)
	client := &tls.Config{RootCAs: pki.pool(), Certificates: []tls.Certificate{pki.leaf(t, "box.city-general", x509.ExtKeyUsageClientAuth)}}
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, nil)
	b := newRecBox(t, n, "city-general", Delivery{}, func(c *Config) {
		c.Routes = []Route{
			{Name: "engine", Match: route.Match{Content: route.HL7v2, ReceivingApp: "HIS"}, Endpoint: Endpoint{URL: "mllps://" + ln.Addr().String(), TLS: client}},
			{Name: "no-cert", Match: route.Match{Content: route.HL7v2}, Endpoint: Endpoint{URL: "mllps://" + ln.Addr().String(), TLS: &tls.Config{RootCAs: pki.pool()}}},
			{Name: "fhir", Match: route.Match{Content: route.FHIRJSON}, Endpoint: Endpoint{URL: hs.URL + "/fhir", TLS: client}},
		}
	})
	admit(t, fixture(t), a, b)
	if st, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(withControlID("TLS1"))); st != 200 {
		t.Fatalf("HL7 over mllps: %d %s", st, out)
	}
	if st, out := post(t, a, "city-general", "application/fhir+json", []byte(`{"resourceType":"Patient","id":"tls"}`)); st != 200 {
		t.Fatalf("FHIR over https: %d %s", st, out)
	}
	noCert := strings.Replace(withControlID("TLS2"), "|HIS|", "|LAB|", 1)
	st, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(noCert))
	wantRefusal(t, st, out, http.StatusBadGateway, codeDelivery, "")
	if eng.count() != 1 || ehr.count() != 1 {
		t.Fatalf("engine got %d, EHR %d; want 1 each", eng.count(), ehr.count())
	}
}

// An engine that half-closes after each reply, a moment later, and still
// takes what arrives before it reads the close (node-hl7-server's end()
// after sendResponse does this): a message sent on that connection in the
// gap reaches the engine but is never answered, so resending it would
// deliver it twice. The box watches a new connection's first answer for
// the close and, once seen, gives the engine a connection per message:
// back-to-back records each reach it exactly once.
func TestMLLPHalfClosingEngineExactlyOnce(t *testing.T) {
	eng := &halfClosingEngine{got: map[string]int{}}
	addr := eng.serve(t)
	n := &recNet{addrs: map[string]string{}}
	a := newRecBox(t, n, "st-mary", Delivery{}, nil)
	b := newRecBox(t, n, "city-general", Delivery{}, func(c *Config) {
		c.Routes = []Route{{Name: "engine", Match: route.Match{Content: route.HL7v2}, Endpoint: Endpoint{URL: "mllp://" + addr}}}
	})
	admit(t, fixture(t), a, b)
	const msgs = 30
	for i := range msgs {
		id := fmt.Sprintf("HC%03d", i)
		if st, out := post(t, a, "city-general", hl7.HL7ContentType, []byte(withControlID(id))); st != 200 {
			t.Fatalf("message %s: %d %s", id, st, out)
		}
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	for i := range msgs {
		if id := fmt.Sprintf("HC%03d", i); eng.got[id] != 1 {
			t.Errorf("%s reached the engine %d times, want exactly once", id, eng.got[id])
		}
	}
}

// halfClosingEngine answers AA, half-closes the connection 3 ms later, and
// keeps reading (and taking) messages until the box closes its side.
type halfClosingEngine struct {
	mu  sync.Mutex
	got map[string]int
}

func (e *halfClosingEngine) serve(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go e.conn(c.(*net.TCPConn))
		}
	}()
	return ln.Addr().String()
}

func (e *halfClosingEngine) conn(c *net.TCPConn) {
	defer c.Close()
	rd := bufio.NewReader(c)
	answered := false
	for {
		msg, err := hl7.ReadFrame(rd, 1<<20)
		if err != nil {
			return
		}
		m, err := hl7.ParseMSH(msg)
		if err != nil {
			return
		}
		e.mu.Lock()
		e.got[m.ControlID]++
		e.mu.Unlock()
		if answered {
			continue // taken, but the engine has ended its side: no answer
		}
		answered = true
		c.Write(ackFrame(m, "AA"))
		time.AfterFunc(3*time.Millisecond, func() { c.CloseWrite() })
	}
}

// An endpoint's state follows the hospital system between records: with
// no record sent, an engine that goes away shows down, and is no longer
// down when it is back, so the endpoint-down alert neither misses an idle
// outage nor keeps firing after the engine returns.
func TestEndpointStateFollowsProbes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	acceptAll := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	go acceptAll(ln)
	n := &recNet{addrs: map[string]string{}}
	b := newRecBox(t, n, "city-general", Delivery{}, func(c *Config) {
		c.Routes = []Route{{Name: "engine", Match: route.Match{Content: route.HL7v2}, Endpoint: Endpoint{URL: "mllp://" + addr}}}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.r.WatchEndpoints(ctx, 20*time.Millisecond)
	waitState := func(want ...EndpointState) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if h := b.r.Endpoints()[0]; slices.Contains(want, h.State) {
				if h.Count != 0 {
					t.Fatalf("probes counted as deliveries: %+v", h)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("endpoint state %s, want %v", b.r.Endpoints()[0].State, want)
	}
	waitState(EndpointUp)
	ln.Close()
	waitState(EndpointDown)
	if h := b.r.Endpoints()[0]; h.LastError != codeDelivery {
		t.Fatalf("down endpoint's last error %q, want %s", h.LastError, codeDelivery)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go acceptAll(ln2)
	// Back: up, shown degraded for a minute after its failure (degradedFor).
	waitState(EndpointDegraded, EndpointUp)
}
