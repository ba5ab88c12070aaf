package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/google/pprof/profile"
)

// The record benchmark runs both boxes and the hospital systems in one
// process on the machine's two cores, so its wall-clock rate is what the
// whole consortium-on-one-machine reaches. Each part's goroutines carry a
// pprof label ("part": box name or "hospital"), and a CPU profile of a run
// splits its CPU time by part: what one box costs per record, and so what
// rate one box on its own two cores sustains.

// withPart runs f with the goroutine label part=name; goroutines f starts
// inherit it.
func withPart(name string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("part", name), func(context.Context) { f() })
}

// cpuSplit is CPU time per part over one profiled run.
type cpuSplit map[string]time.Duration

// profileParts runs f under the CPU profiler and returns its CPU time by
// part. It returns nil if a profile is already running (go test -cpuprofile).
func profileParts(name string, f func()) (cpuSplit, error) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		f()
		return nil, nil
	}
	f()
	pprof.StopCPUProfile()
	// RECBENCH_CPUPROFILE=PREFIX keeps each profiled run as PREFIX.NAME,
	// to study one part: go tool pprof -tagfocus part=city-general FILE
	if path := os.Getenv("RECBENCH_CPUPROFILE"); path != "" {
		os.WriteFile(path+"."+name, buf.Bytes(), 0o644)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		return nil, fmt.Errorf("parsing CPU profile: %w", err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("CPU profile has no cpu sample type")
	}
	out := cpuSplit{}
	for _, s := range p.Sample {
		part := "runtime" // GC workers and the scheduler carry no label
		if v := s.Label["part"]; len(v) > 0 {
			part = v[0]
		}
		out[part] += time.Duration(s.Value[idx])
	}
	return out, nil
}
