package config

import (
	"strings"
	"testing"
	"time"
)

func TestScaleKeys(t *testing.T) {
	y := edit(t, "  dev_ca: dev-ca\n", "  dev_ca: dev-ca\n  simulator:\n    latency: {quote: 120ms, activate: 250ms}\n",
		"  policy: policy.yaml\n", "  policy: policy.yaml\n  batch_window: 50ms\n  runtime:\n    policy: rt/policy.json\n    signature: rt/policy.sig\n    measure: [image/kernel.bin]\n")
	c, err := Parse([]byte(y), "/etc/wardgate")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TPMLatency(); got["quote"] != 120*time.Millisecond || got["activate"] != 250*time.Millisecond {
		t.Fatalf("latency = %v", got)
	}
	if c.BatchWindow() != 50*time.Millisecond {
		t.Fatalf("batch window = %s", c.BatchWindow())
	}
	if r := c.Attestation.Runtime; r.Policy != "/etc/wardgate/rt/policy.json" || r.Measure[0] != "/etc/wardgate/image/kernel.bin" {
		t.Fatalf("runtime paths not resolved: %+v", r)
	}
	def, err := Parse([]byte(goodYAML), "/etc/wardgate")
	if err != nil {
		t.Fatal(err)
	}
	if def.BatchWindow() != DefaultBatchWindow {
		t.Fatalf("default batch window = %s", def.BatchWindow())
	}
	off, err := Parse([]byte(edit(t, "  policy: policy.yaml\n", "  policy: policy.yaml\n  batch_window: \"off\"\n")), "/etc/wardgate")
	if err != nil || off.BatchWindow() != 0 {
		t.Fatalf("batch_window off: %v, %v", off, err)
	}
}

func TestScaleKeysBad(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"latency not a duration": {edit(t, "  dev_ca: dev-ca\n", "  dev_ca: dev-ca\n  simulator: {latency: {quote: slow}}\n"),
			`tpm.simulator.latency.quote: "slow" is not a duration between 0 and 10s`},
		"batch window too long": {edit(t, "  policy: policy.yaml\n", "  policy: policy.yaml\n  batch_window: 5s\n"),
			`attestation.batch_window: "5s" is not a duration between 0 and 1s`},
		"runtime without policy": {edit(t, "  policy: policy.yaml\n", "  policy: policy.yaml\n  runtime: {measure: [a]}\n"),
			`attestation.runtime.policy: is required`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "/etc/wardgate")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
