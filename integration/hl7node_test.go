package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardgate/wardgate/integration/cluster"
	"github.com/wardgate/wardgate/internal/testutil"
)

// The hospital systems in these tests are third-party HL7 v2 software from
// npm, pinned in integration/hl7node/package-lock.json and installed by
// `make node-hl7` (which `make test` runs): node-hl7-client plays the
// sending hospital's LIS, node-hl7-server the receiving hospital's engine.

// nodeHL7 is the node binary and the node_modules the scripts run with.
func nodeHL7(t *testing.T) (node, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: %v (make deps installs it)", err)
	}
	modules = os.Getenv("WARDGATE_NODE_HL7")
	if modules == "" {
		home, _ := os.UserHomeDir()
		modules = filepath.Join(home, ".cache", "wardgate", "node-hl7-2.5.0", "node_modules")
	}
	for _, p := range []string{"node-hl7-server", "node-hl7-client"} {
		if _, err := os.Stat(filepath.Join(modules, p)); err != nil {
			t.Fatalf("%s is not installed in %s: run `make node-hl7` (make test does)", p, modules)
		}
	}
	return node, modules
}

// engine is one node-hl7-server process (integration/hl7node/engine.js).
type engine struct {
	t        *testing.T
	node     string
	modules  string
	port     int
	mode     string
	mu       sync.Mutex
	lines    []string // "MSG id" and "AE id", across restarts
	cmd      *exec.Cmd
	done     chan struct{}
	listened chan struct{}
}

func startEngine(t *testing.T, node, modules, mode string) *engine {
	e := &engine{t: t, node: node, modules: modules, port: testutil.FreePort(t), mode: mode}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *engine) start() {
	e.t.Helper()
	cmd := exec.Command(e.node, "hl7node/engine.js", strconv.Itoa(e.port), e.mode)
	cmd.Env = append(os.Environ(), "NODE_PATH="+e.modules)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.cmd, e.done, e.listened = cmd, make(chan struct{}), make(chan struct{})
	go e.read(out, e.done, e.listened)
	select {
	case <-e.listened:
	case <-time.After(30 * time.Second):
		e.t.Fatalf("engine on port %d did not listen", e.port)
	}
}

func (e *engine) read(out io.Reader, done, listened chan struct{}) {
	defer close(done)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "LISTEN ") {
			close(listened)
			continue
		}
		e.mu.Lock()
		e.lines = append(e.lines, line)
		e.mu.Unlock()
	}
}

// stop ends the engine with SIGTERM (it closes between messages) and waits.
func (e *engine) stop() {
	if e.cmd == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	<-e.done
	e.cmd.Wait()
	e.cmd = nil
}

// taken counts each control ID the engine printed with prefix ("MSG" or "AE").
func (e *engine) taken(prefix string) map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for _, l := range e.lines {
		if id, ok := strings.CutPrefix(l, prefix+" "); ok {
			out[id]++
		}
	}
	return out
}

// ackResult is one line of sender.js.
type ackResult struct {
	ID       string `json:"id"`
	Code     string `json:"code"`
	MSA2     string `json:"msa2"`
	Attempts int    `json:"attempts"`
	Text     string `json:"text"`
}

// sendHL7 runs sender.js against box's MLLP intake and returns its results.
func sendHL7(ctx context.Context, t *testing.T, node, modules string, box *cluster.Box, count int, prefix, app, facility string, retries int, progress func(int)) []ackResult {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, "hl7node/sender.js", strconv.Itoa(box.MLLPPort), strconv.Itoa(count), prefix, app, facility, "ORU^R01", strconv.Itoa(retries))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	if box.LANTLSConfig() != nil { // authenticated intake: MLLPS with the dev EHR certificate
		dir := filepath.Join(box.Dir, "..", "api")
		cmd.Env = append(cmd.Env, "MLLPS_CA="+filepath.Join(dir, "ca.pem"), "MLLPS_CERT="+filepath.Join(dir, "ehr.pem"), "MLLPS_KEY="+filepath.Join(dir, "ehr-key.pem"))
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var res []ackResult
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var r ackResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("sender line %q: %v", sc.Text(), err)
		}
		res = append(res, r)
		if progress != nil {
			progress(len(res))
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sender.js (%s): %v", prefix, err)
	}
	if len(res) != count {
		t.Fatalf("sender.js (%s): %d results for %d messages", prefix, len(res), count)
	}
	return res
}

// exactlyOnce checks that every message was acknowledged AA with its own
// MSA-2 and reached the engine exactly once.
func exactlyOnce(t *testing.T, what string, res []ackResult, e *engine) {
	t.Helper()
	taken := e.taken("MSG")
	for _, r := range res {
		if r.Code != "AA" || r.MSA2 != r.ID {
			t.Errorf("%s: %s answered %s with MSA-2 %q (%s), want AA with its own control ID", what, r.ID, r.Code, r.MSA2, r.Text)
		}
		if n := taken[r.ID]; n != 1 {
			t.Errorf("%s: %s reached the engine %d times, want exactly once", what, r.ID, n)
		}
	}
	if len(taken) != len(res) {
		t.Errorf("%s: the engine took %d distinct messages for %d sent", what, len(taken), len(res))
	}
}

// TestThirdPartyHL7 drives records through two wardgated boxes between
// third-party HL7 software: node-hl7-client sends to box a's MLLP intake,
// and box b delivers by route to node-hl7-server engines and, for FHIR,
// to its EHR over HTTP. Every HL7 message is acknowledged with its own
// MSA-2 and reaches its engine exactly once: across an engine restart in
// the middle of the stream, with an engine that closes the connection
// after each reply (pooled connections), and an engine that answers AE
// is refused by name to the sending LIS, with nothing counted delivered.
// FHIR records in the same stream reach the EHR, by route.
func TestThirdPartyHL7(t *testing.T) {
	node, modules := nodeHL7(t)
	normal := startEngine(t, node, modules, "normal")
	closing := startEngine(t, node, modules, "close")
	refusing := startEngine(t, node, modules, "ae")

	c := newCluster(t, cluster.Userspace, []string{"a", "b"})
	A, B := c.Box("a"), c.Box("b")
	mllp := func(e *engine) string { return fmt.Sprintf("mllp://127.0.0.1:%d", e.port) }
	routes := []map[string]any{
		// node-hl7-server keeps a connection's earlier messages and
		// answers them again with each new one: it needs per-message.
		{"name": "oru-engine", "match": map[string]any{"content": "hl7v2", "receiving_app": "LAB"}, "endpoint": mllp(normal), "connection": "per-message"},
		{"name": "closing-engine", "match": map[string]any{"content": "hl7v2", "receiving_app": "CLOSER"}, "endpoint": mllp(closing)},
		{"name": "refusing-engine", "match": map[string]any{"content": "hl7v2", "receiving_app": "REFUSER"}, "endpoint": mllp(refusing), "connection": "per-message"},
		{"name": "ehr", "match": map[string]any{"content": "fhir-json"}, "endpoint": c.Sink.URL("b")},
	}
	for k, v := range map[string]any{"records.deliver_url": nil, "records.deliver": routes} {
		if err := B.SetConfig(k, v); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := A.WaitPeer(ctx, "b", admitted); err != nil {
		t.Fatal(err)
	}
	if _, err := B.WaitPeer(ctx, "a", admitted); err != nil {
		t.Fatal(err)
	}

	t.Run("restart mid-stream, with FHIR alongside", func(t *testing.T) {
		const n = 200
		var fhirWG sync.WaitGroup
		fhirWG.Add(1)
		go func() { // the EHR's FHIR records travel the same tunnel meanwhile
			defer fhirWG.Done()
			for i := range 20 {
				body := fmt.Appendf(nil, `{"resourceType":"Observation","id":"mixed-%d","status":"final"}`, i)
				if st, out, err := A.PostRecord(ctx, "b", "application/fhir+json", body); err != nil || st != http.StatusOK {
					t.Errorf("FHIR record %d: %d %s %v", i, st, out, err)
				}
			}
		}()
		var once sync.Once
		restarted := make(chan struct{})
		res := sendHL7(ctx, t, node, modules, A, n, "RST", "LAB", "b", 60, func(done int) {
			if done == n/3 {
				once.Do(func() {
					go func() { // the engine restarts while the LIS keeps sending
						normal.stop()
						time.Sleep(time.Second)
						normal.start()
						close(restarted)
					}()
				})
			}
		})
		<-restarted
		fhirWG.Wait()
		exactlyOnce(t, "restart", res, normal)
		retried := 0
		for _, r := range res {
			if r.Attempts > 1 {
				retried++
			}
		}
		t.Logf("%d messages; %d were resent by the LIS while the engine restarted", n, retried)
		for i := range 20 {
			if _, err := c.Sink.WaitFor(ctx, "b", fmt.Sprintf(`"mixed-%d"`, i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(c.Sink.Deliveries("b")); got != 20 {
			t.Fatalf("b's EHR got %d FHIR records, want 20 (and no HL7)", got)
		}
	})

	t.Run("engine closes after each reply", func(t *testing.T) {
		res := sendHL7(ctx, t, node, modules, A, 100, "CLS", "CLOSER", "b", 0, nil)
		exactlyOnce(t, "closing engine", res, closing)
	})

	t.Run("engine answers AE", func(t *testing.T) {
		res := sendHL7(ctx, t, node, modules, A, 10, "AEX", "REFUSER", "b", 0, nil)
		refused := refusing.taken("AE")
		for _, r := range res {
			if r.Code != "AE" || r.MSA2 != r.ID || !strings.Contains(r.Text, "engine_error") {
				t.Errorf("%s: answered %s MSA-2 %q %q; want AE naming engine_error, with its own control ID", r.ID, r.Code, r.MSA2, r.Text)
			}
			if refused[r.ID] != 1 {
				t.Errorf("%s: the engine saw it %d times, want once", r.ID, refused[r.ID])
			}
		}
		var st struct {
			Delivery []struct {
				Route     string `json:"route"`
				State     string `json:"state"`
				LastError string `json:"last_error"`
				Delivered uint64 `json:"delivered"`
				Failed    uint64 `json:"failed"`
			} `json:"delivery"`
		}
		if err := B.CLIJSON(ctx, &st, "status"); err != nil {
			t.Fatal(err)
		}
		for _, d := range st.Delivery {
			if d.Route == "refusing-engine" && (d.Delivered != 0 || d.Failed != 10 || d.LastError != "engine_error" || d.State != "degraded") {
				t.Fatalf("refusing engine's status: %+v", d)
			}
		}
		t.Logf("b's delivery status: %+v", st.Delivery)
	})

	t.Run("steady state logs no INFO", func(t *testing.T) {
		// With the chain anchoring each checkpoint and peers renewing
		// every 2 s, neither daemon logs at INFO or above while nothing changes.
		from := map[*cluster.Box]int64{}
		for _, b := range []*cluster.Box{A, B} {
			st, err := os.Stat(b.LogPath)
			if err != nil {
				t.Fatal(err)
			}
			from[b] = st.Size()
		}
		time.Sleep(5 * time.Second)
		for _, b := range []*cluster.Box{A, B} {
			data, err := os.ReadFile(b.LogPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(data[from[b]:]), "\n") {
				if strings.Contains(line, "level=INFO") || strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Errorf("%s in steady state: %s", b.Name, line)
				}
			}
		}
	})
}
