package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/gateway/control"
)

// signedBackend serves real signed attestation reports.
type signedBackend struct {
	*testBackend
	docs map[string][]byte
}

func (b *signedBackend) Report(_ context.Context, id string) ([]byte, error) {
	if d, ok := b.docs[id]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("report %q: %w", id, control.ErrNotFound)
}

// TestReportsExportVerify exports real reports (appraised by a real
// verifier against the in-process TPM simulator) through the control
// socket and checks them with `reports verify`, as a security team would.
func TestReportsExportVerify(t *testing.T) {
	f := attesttest.New(t)
	v, err := f.Verifier("hospital-b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	recPub, _, _ := ed25519.GenerateKey(nil)
	b := &signedBackend{testBackend: &testBackend{now: time.Now()}, docs: map[string][]byte{}}
	for range 2 {
		_, rep, err := f.Run(context.Background(), v, "hospital-b", [32]byte{1, 2, 3}, recPub)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := rep.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b.docs[rep.ID] = doc
		b.reports = append(b.reports, control.ReportSummary{ID: rep.ID, Time: rep.Time, Peer: rep.Peer, Verdict: verdictWord(rep.Pass)})
	}
	sock := serve(t, b)
	dir := t.TempDir()
	export := filepath.Join(dir, "reports.json")
	if r := wardgate(t, sock, "reports", "export", "-o", export); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	key := hex.EncodeToString(f.ReportKey())
	r := wardgate(t, "", "reports", "verify", export, "--key", key)
	if r.code != 0 {
		t.Fatalf("real exported reports do not verify: %+v", r)
	}
	mustContain(t, "verify", r.stdout, "hospital-b", "pass", "ok")
	if n := strings.Count(r.stdout, " ok\n"); n != 2 {
		t.Fatalf("%d reports ok, want 2:\n%s", n, r.stdout)
	}

	// One report as printed by `reports show --json` verifies too.
	one := writeFile(t, dir, "one.json", []byte(wardgate(t, sock, "reports", "show", b.reports[0].ID, "--json").stdout))
	if r := wardgate(t, "", "reports", "verify", one, "--key", key); r.code != 0 {
		t.Fatalf("single report: %+v", r)
	}

	// Another box's key, or a report edited after signing, is refused.
	other, _, _ := ed25519.GenerateKey(nil)
	if r := wardgate(t, "", "reports", "verify", export, "--key", hex.EncodeToString(other)); r.code != 1 || !strings.Contains(r.stderr, "2 of 2 reports") {
		t.Fatalf("wrong key: %+v", r)
	}
	data := []byte(readFile(t, export))
	edited := bytes.Replace(data, []byte(`\"pass\":true`), []byte(`\"pass\":false`), 1)
	if bytes.Equal(edited, data) {
		// The envelope holds the report as a JSON object, not a string.
		edited = bytes.Replace(data, []byte(`"pass":true`), []byte(`"pass":false`), 1)
	}
	if bytes.Equal(edited, data) {
		t.Fatalf("test could not find the verdict to edit in %s", data)
	}
	tampered := writeFile(t, dir, "tampered.json", edited)
	r = wardgate(t, "", "reports", "verify", tampered, "--key", key, "--json")
	var checks []reportCheck
	if err := json.Unmarshal([]byte(r.stdout), &checks); err != nil || r.code != 1 || checks[0].OK || !checks[1].OK {
		t.Fatalf("tampered: code %d %+v %v", r.code, checks, err)
	}
	if r := wardgate(t, "", "reports", "verify", export); r.code != 2 || !strings.Contains(r.stderr, "--key") {
		t.Fatalf("no key: %+v", r)
	}
}
