package cluster

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wardgate/wardgate/records/hl7"
)

// Delivery is one record a box handed to its hospital's LAN system.
type Delivery struct {
	Box         string // the receiving box
	Via         string // "http" or "mllp"
	Sender      string
	ContentType string
	Digest      string
	Body        []byte
}

// Sink plays every hospital's LAN systems (an EHR's HTTP endpoint and an HL7
// engine's MLLP port) and keeps what the boxes deliver, in memory.
type Sink struct {
	host string
	http *http.Server
	hl   net.Listener

	mu    sync.Mutex
	got   []Delivery
	mllp  map[string]net.Listener
	down  map[string]bool
	wake  chan struct{}
	conns sync.WaitGroup
}

// StartSink listens on host.
func StartSink(host string) (*Sink, error) {
	s := &Sink{host: host, mllp: map[string]net.Listener{}, down: map[string]bool{}, wake: make(chan struct{})}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("cluster: sink: %w", err)
	}
	s.hl = ln
	mux := http.NewServeMux()
	mux.HandleFunc("POST /deliver/{box}", func(w http.ResponseWriter, r *http.Request) {
		box := r.PathValue("box")
		if s.isDown(box) {
			http.Error(w, "EHR maintenance window", http.StatusServiceUnavailable)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// A box with deliver_fhir_batch sends FHIR batch Bundles (and no
		// per-record digest header): the EHR stores each entry.
		if r.Header.Get("Wardgate-Digest") == "" {
			if out, ok := s.takeBatch(box, r.Header.Get("Wardgate-Sender"), body); ok {
				w.Header().Set("Content-Type", "application/fhir+json")
				w.Write(out)
				return
			}
		}
		s.add(Delivery{Box: box, Via: "http", Sender: r.Header.Get("Wardgate-Sender"),
			ContentType: r.Header.Get("Content-Type"), Digest: r.Header.Get("Wardgate-Digest"), Body: body})
		w.WriteHeader(http.StatusNoContent)
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

// takeBatch stores the entries of a FHIR batch Bundle as deliveries and
// returns the batch-response (201 for each), or false if body is not one.
func (s *Sink) takeBatch(box, sender string, body []byte) ([]byte, bool) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &b) != nil || b.ResourceType != "Bundle" || b.Type != "batch" {
		return nil, false
	}
	out := []byte(`{"resourceType":"Bundle","type":"batch-response","entry":[`)
	for i, e := range b.Entry {
		d := sha256.Sum256(e.Resource)
		s.add(Delivery{Box: box, Via: "http-fhir-batch", Sender: sender, ContentType: "application/fhir+json",
			Digest: hex.EncodeToString(d[:]), Body: e.Resource})
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"response":{"status":"201 Created"}}`...)
	}
	return append(out, "]}"...), true
}

// URL is where box delivers records over HTTP.
func (s *Sink) URL(box string) string {
	return "http://" + s.hl.Addr().String() + "/deliver/" + box
}

// MLLPAddr is box's HL7 engine (started on first use).
func (s *Sink) MLLPAddr(box string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln, ok := s.mllp[box]; ok {
		return ln.Addr().String()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.host, "0"))
	if err != nil {
		return "127.0.0.1:1" // nothing listens: deliveries fail loudly
	}
	s.mllp[box] = ln
	go s.serveMLLP(box, ln)
	return ln.Addr().String()
}

func (s *Sink) serveMLLP(box string, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer c.Close()
			rd := bufio.NewReader(c)
			for {
				msg, err := hl7.ReadFrame(rd, 16<<20)
				if err != nil {
					return
				}
				msh, err := hl7.ParseMSH(msg)
				if err != nil {
					return
				}
				code := "AA"
				if s.isDown(box) {
					code = "AE"
				} else {
					s.add(Delivery{Box: box, Via: "mllp", ContentType: "application/hl7-v2", Body: msg})
				}
				if err := hl7.WriteFrame(c, hl7.BuildAck(msh, code, "", time.Now())); err != nil {
					return
				}
			}
		}()
	}
}

// SetDown makes box's LAN systems refuse deliveries (or accept them again).
func (s *Sink) SetDown(box string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down[box] = down
}

func (s *Sink) isDown(box string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down[box]
}

func (s *Sink) add(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	close(s.wake)
	s.wake = make(chan struct{})
}

// Deliveries returns what box's LAN systems received so far.
func (s *Sink) Deliveries(box string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for _, d := range s.got {
		if d.Box == box {
			out = append(out, d)
		}
	}
	return out
}

// WaitFor waits until box has a delivery whose body contains substr.
func (s *Sink) WaitFor(ctx context.Context, box, substr string) (Delivery, error) {
	for {
		s.mu.Lock()
		wake := s.wake
		for _, d := range s.got {
			if d.Box == box && strings.Contains(string(d.Body), substr) {
				s.mu.Unlock()
				return d, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return Delivery{}, fmt.Errorf("cluster: %s's LAN never received %q: %w", box, substr, ctx.Err())
		}
	}
}

// Close stops the sink.
func (s *Sink) Close() error {
	err := s.http.Close()
	s.mu.Lock()
	for _, ln := range s.mllp {
		ln.Close()
	}
	s.mu.Unlock()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
