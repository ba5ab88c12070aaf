package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// DaemonComponent is the name of the wardgated binary's own measurement,
// which Boot requires to be the last component.
const DaemonComponent = "wardgated"

// KernelEventLogPath is where Linux exposes the platform's TCG event log.
const KernelEventLogPath = "/sys/kernel/security/tpm0/binary_bios_measurements"

// MaxEventLogSize bounds an event log read from disk or the network.
const MaxEventLogSize = 4 << 20

// TCG event types used by the playback (TCG PC Client PFP spec).
const (
	evNoAction = 0x00000003
	evIPL      = 0x0000000D

	algSHA256 = 0x000B
)

// eventPrefix marks the event data of a wardgate component measurement.
const eventPrefix = "wardgate-component:"

// PCRExtender extends a PCR in the SHA-256 bank (attest.TPM satisfies it).
type PCRExtender interface {
	ExtendPCR(ctx context.Context, index int, digest []byte) error
}

// BootComponent is one component of a firmware image as it is booted.
type BootComponent struct {
	Name    string
	Version string
	PCR     int
	Digest  []byte // SHA-256 of the component image
}

// Measure builds a BootComponent from the component's image bytes.
func Measure(name, version string, pcr int, image []byte) BootComponent {
	d := sha256.Sum256(image)
	return BootComponent{Name: name, Version: version, PCR: pcr, Digest: d[:]}
}

// MeasureFile builds a BootComponent from an image file, e.g. the running
// wardgated binary (os.Executable()).
func MeasureFile(name, version string, pcr int, path string) (BootComponent, error) {
	f, err := os.Open(path)
	if err != nil {
		return BootComponent{}, fmt.Errorf("firmware: measure %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return BootComponent{}, fmt.Errorf("firmware: measure %s: %w", name, err)
	}
	return BootComponent{Name: name, Version: version, PCR: pcr, Digest: h.Sum(nil)}, nil
}

// Approved turns a manifest entry into the BootComponent a box running it
// would measure.
func (c Component) Approved() BootComponent {
	d, _ := hex.DecodeString(c.SHA256)
	return BootComponent{Name: c.Name, Version: c.Version, PCR: c.PCR, Digest: d}
}

// Boot plays a measured boot into a (simulated) TPM: for each component it
// extends the component's PCR with its digest and appends an event to a TCG PC
// Client crypto-agile event log, which it returns. The last component must be
// the wardgated binary itself (DaemonComponent).
func Boot(ctx context.Context, ext PCRExtender, comps []BootComponent) ([]byte, error) {
	if len(comps) == 0 {
		return nil, errors.New("firmware: boot: no components")
	}
	if last := comps[len(comps)-1]; last.Name != DaemonComponent {
		return nil, fmt.Errorf("firmware: boot: last component is %q; the %q binary must be measured last", last.Name, DaemonComponent)
	}
	w := NewEventLogWriter()
	for _, c := range comps {
		if len(c.Digest) != sha256.Size {
			return nil, fmt.Errorf("firmware: boot: component %s has a %d-byte digest, want SHA-256", c.Name, len(c.Digest))
		}
		if c.PCR < 0 || c.PCR > 15 {
			return nil, fmt.Errorf("firmware: boot: component %s: PCR %d is not a static-boot PCR (0..15)", c.Name, c.PCR)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := ext.ExtendPCR(ctx, c.PCR, c.Digest); err != nil {
			return nil, fmt.Errorf("firmware: boot: extend PCR %d with %s: %w", c.PCR, c.Name, err)
		}
		w.Append(c.PCR, evIPL, c.Digest, EventData(c.Name, c.Version))
	}
	return w.Bytes(), nil
}

// EventData is the event payload that names a component in the log. It is
// untrusted: a verifier identifies components by their replayed digests.
func EventData(name, version string) []byte {
	return []byte(eventPrefix + name + "@" + version)
}

// ParseEventData returns the component name and version an event claims.
func ParseEventData(data []byte) (name, version string, ok bool) {
	s, found := strings.CutPrefix(string(data), eventPrefix)
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// EventLogWriter writes a TCG PC Client crypto-agile (SHA-256 only) log.
type EventLogWriter struct {
	buf bytes.Buffer
}

// NewEventLogWriter starts a log with the Spec ID header event.
func NewEventLogWriter() *EventLogWriter {
	w := &EventLogWriter{}
	// TCG_EfiSpecIDEvent: signature, platform class, spec 2.0 errata 0,
	// uintn size 2 (64-bit), one algorithm (SHA-256, 32 bytes), no vendor info.
	var spec bytes.Buffer
	spec.WriteString("Spec ID Event03\x00")
	le(&spec, uint32(0))
	spec.Write([]byte{0, 2, 0, 2})
	le(&spec, uint32(1))
	le(&spec, uint16(algSHA256))
	le(&spec, uint16(sha256.Size))
	spec.WriteByte(0)
	// The header event uses the legacy SHA-1 event format.
	le(&w.buf, uint32(0))
	le(&w.buf, uint32(evNoAction))
	w.buf.Write(make([]byte, 20))
	le(&w.buf, uint32(spec.Len()))
	w.buf.Write(spec.Bytes())
	return w
}

// Append adds one crypto-agile event with a single SHA-256 digest.
func (w *EventLogWriter) Append(pcr int, eventType uint32, digest, data []byte) {
	le(&w.buf, uint32(pcr))
	le(&w.buf, eventType)
	le(&w.buf, uint32(1))
	le(&w.buf, uint16(algSHA256))
	w.buf.Write(digest)
	le(&w.buf, uint32(len(data)))
	w.buf.Write(data)
}

// Bytes returns the log so far.
func (w *EventLogWriter) Bytes() []byte { return bytes.Clone(w.buf.Bytes()) }

func le(b *bytes.Buffer, v any) { _ = binary.Write(b, binary.LittleEndian, v) }

// ReadEventLog reads a real box's TCG event log (normally
// KernelEventLogPath; needs securityfs mounted and root).
func ReadEventLog(path string) ([]byte, error) {
	if path == "" {
		path = KernelEventLogPath
	}
	b, err := readBounded(path, MaxEventLogSize)
	if err != nil {
		return nil, fmt.Errorf("firmware: read event log: %w", err)
	}
	return b, nil
}
