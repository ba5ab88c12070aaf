package config

import (
	"net"
	"time"
)

// DefaultBatchWindow is how long a box gathers challenges before it
// answers them all with one quote: long enough that the peers' rounds,
// which start on the same interval boundaries, land in one window; short
// beside any interval.
const DefaultBatchWindow = 100 * time.Millisecond

// DefaultRuntimePoll is how often a simulated box checks its measured
// files for changes.
const DefaultRuntimePoll = 250 * time.Millisecond

// TPMTiming makes a simulated TPM take as long as a discrete one:
// latency per command name (quote, activate, extend, sign, create, load,
// unseal), e.g. {quote: 120ms, activate: 250ms}. Commands run one at a
// time, as on a real TPM.
type TPMTiming struct {
	Latency map[string]string `yaml:"latency,omitempty"`
}

// Runtime is the runtime-integrity (IMA) appraisal: this box sends its
// runtime measurement list, and appraises its peers' against the signed
// runtime policy.
type Runtime struct {
	// Policy and Signature are the vendor-signed runtime policy (canonical
	// JSON, detached Ed25519 signature by a key in attestation.vendor_keys).
	Policy    string `yaml:"policy"`
	Signature string `yaml:"signature"`
	// Measure lists the files a simulated box measures when it starts and
	// again whenever one changes (tpm.source simulator or swtpm).
	Measure []string `yaml:"measure,omitempty"`
	// List is a real box's kernel IMA list (tpm.source device); default
	// /sys/kernel/security/ima/binary_runtime_measurements.
	List string `yaml:"list,omitempty"`
	// Poll is how often measured files are checked; default 250ms.
	Poll string `yaml:"poll,omitempty"`
}

// validateScale checks tpm.simulator and the batching and runtime keys of
// attestation.
func (c *Config) validateScale(k *checker) {
	for name, v := range c.TPM.Simulator.Latency {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 10*time.Second {
			k.add("tpm.simulator.latency."+name, "%q is not a duration between 0 and 10s; write e.g. 120ms", v)
		}
	}
	if len(c.TPM.Simulator.Latency) > 0 && c.TPM.Source == TPMDevice {
		k.add("tpm.simulator.latency", "applies only to a simulated TPM (tpm.source simulator); remove it for a device")
	}
	if w := c.Attestation.BatchWindow; w != "" && w != "off" {
		if d, err := time.ParseDuration(w); err != nil || d < 0 || d > time.Second {
			k.add("attestation.batch_window", "%q is not a duration between 0 and 1s (or \"off\"); write e.g. 100ms", w)
		}
	}
	r := c.Attestation.Runtime
	if r == nil {
		return
	}
	k.required("attestation.runtime.policy", r.Policy, "the signed runtime policy file (JSON)")
	k.required("attestation.runtime.signature", r.Signature, "the runtime policy's detached signature file")
	k.duration("attestation.runtime.poll", r.Poll, DefaultRuntimePoll, 10*time.Millisecond)
	if c.TPM.Source == TPMDevice && len(r.Measure) > 0 {
		k.add("attestation.runtime.measure", "applies only to a simulated TPM; a device box's kernel IMA measures (see attestation.runtime.list)")
	}
	k.listLen("attestation.runtime.measure", len(r.Measure))
}

func (c *Config) resolveRuntimePaths(abs func(*string)) {
	r := c.Attestation.Runtime
	if r == nil {
		return
	}
	abs(&r.Policy)
	abs(&r.Signature)
	for i := range r.Measure {
		abs(&r.Measure[i])
	}
}

// BatchWindow is how long challenges are gathered into one quote; 0 means
// batching is off (every challenge gets its own quote, protocol v1).
func (c *Config) BatchWindow() time.Duration {
	w := c.Attestation.BatchWindow
	if w == "" {
		return DefaultBatchWindow
	}
	if w == "off" {
		return 0
	}
	d, _ := time.ParseDuration(w)
	return d
}

// TPMLatency is tpm.simulator.latency, parsed.
func (c *Config) TPMLatency() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, v := range c.TPM.Simulator.Latency {
		d, _ := time.ParseDuration(v)
		out[name] = d
	}
	return out
}

// RuntimePoll is attestation.runtime.poll, parsed.
func (c *Config) RuntimePoll() time.Duration {
	if c.Attestation.Runtime == nil || c.Attestation.Runtime.Poll == "" {
		return DefaultRuntimePoll
	}
	d, _ := time.ParseDuration(c.Attestation.Runtime.Poll)
	return d
}

// PeersPerUnderlay is the largest number of peers whose attestation
// endpoints share one host: the attestation listener allows each of them
// its own connections from that address.
func (c *Config) PeersPerUnderlay() int {
	n := map[string]int{}
	most := 1
	for _, p := range c.Peers {
		host, _, err := net.SplitHostPort(p.Endpoint)
		if err != nil {
			continue
		}
		n[host]++
		most = max(most, n[host])
	}
	return most
}
