package control

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
)

// BenchmarkReportsDirect is the baseline: the backend call and the JSON
// encoding the server does, without the socket and HTTP.
func BenchmarkReportsDirect(b *testing.B) {
	be := newTestBackend()
	f := ReportFilter{Limit: 20}
	var buf bytes.Buffer
	for b.Loop() {
		rs, _ := be.Reports(context.Background(), f)
		buf.Reset()
		json.NewEncoder(&buf).Encode(rs)
		var out []ReportSummary
		json.Unmarshal(buf.Bytes(), &out)
	}
}

// BenchmarkReportsSocket is the same page through the control socket.
func BenchmarkReportsSocket(b *testing.B) {
	path := filepath.Join(b.TempDir(), "c.sock")
	s, err := NewServer(ServerConfig{Path: path, Backend: newTestBackend(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	c := NewClient(path)
	defer c.Close()
	for b.Loop() {
		if _, err := c.Reports(context.Background(), ReportFilter{Limit: 20}); err != nil {
			b.Fatal(err)
		}
	}
}
