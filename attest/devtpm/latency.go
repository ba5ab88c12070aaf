package devtpm

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// A simulated TPM answers in microseconds; a discrete TPM takes 50-200 ms
// to quote and 100-300 ms to activate a credential, and runs one command
// at a time. Latency makes the simulator honest about that, so that
// benchmarks and scale tests see the TPM as the bottleneck it is.

// Command names accepted in Latency (the config's tpm.simulator.latency).
const (
	CmdQuote    = "quote"
	CmdActivate = "activate"
	CmdExtend   = "extend"
	CmdSign     = "sign"
	CmdCreate   = "create"
	CmdLoad     = "load"
	CmdUnseal   = "unseal"
)

// commandCodes maps the names to TPM 2.0 command codes.
var commandCodes = map[string]uint32{
	CmdQuote:    0x158,
	CmdActivate: 0x147,
	CmdExtend:   0x182,
	CmdSign:     0x15d,
	CmdCreate:   0x153,
	CmdLoad:     0x157,
	CmdUnseal:   0x15e,
}

// CommandNames lists the names Latency accepts, for error messages.
func CommandNames() []string {
	return []string{CmdQuote, CmdActivate, CmdExtend, CmdSign, CmdCreate, CmdLoad, CmdUnseal}
}

// Latency is the time each named command takes.
type Latency map[string]time.Duration

// byCode checks the names and keys the latencies by command code.
func (l Latency) byCode() (map[uint32]time.Duration, error) {
	out := map[uint32]time.Duration{}
	for name, d := range l {
		cc, ok := commandCodes[name]
		if !ok {
			return nil, fmt.Errorf("devtpm: latency: unknown command %q; use one of %v", name, CommandNames())
		}
		if d < 0 || d > 10*time.Second {
			return nil, fmt.Errorf("devtpm: latency: %s is %s, want 0..10s", name, d)
		}
		out[cc] = d
	}
	return out, nil
}

// quotesIssued counts TPM2_Quote commands sent to the simulator in this
// process (there is one simulator per process).
var quotesIssued atomic.Uint64

// Quotes is how many TPM2_Quote commands the simulator has run in this
// process: what the batching tests count.
func Quotes() uint64 { return quotesIssued.Load() }

// slowRW serialises commands and delays each by its latency, as one
// discrete TPM does: a command waits for the one before it to finish.
type slowRW struct {
	rw    io.ReadWriter
	delay map[uint32]time.Duration
	mu    sync.Mutex
}

// Write sends one whole command (go-tpm writes each command at once).
func (s *slowRW) Write(cmd []byte) (int, error) {
	var cc uint32
	if len(cmd) >= 10 {
		cc = binary.BigEndian.Uint32(cmd[6:10])
	}
	if cc == commandCodes[CmdQuote] {
		quotesIssued.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.delay[cc]; d > 0 {
		time.Sleep(d)
	}
	return s.rw.Write(cmd)
}

func (s *slowRW) Read(p []byte) (int, error) { return s.rw.Read(p) }
