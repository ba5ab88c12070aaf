package config

import "time"

// Witness is the box's part in C2SP witnessing (package witness): it
// cosigns its admitted peers' checkpoints, on the peer records listener,
// and has its own newest checkpoint cosigned by them.
type Witness struct {
	// Off turns witnessing off both ways (for the benchmark's baseline, or
	// a consortium that has not rolled it out yet).
	Off bool `yaml:"off,omitempty"`
	// Interval is how often the newest checkpoint goes to the peers'
	// witnesses (default DefaultWitnessInterval).
	Interval string `yaml:"interval,omitempty"`
}

// DefaultWitnessInterval matches the ledger's default checkpoint interval:
// every new checkpoint is offered once.
const DefaultWitnessInterval = 5 * time.Second

// validateWitness checks witness.interval.
func (c *Config) validateWitness(k *checker) {
	k.duration("witness.interval", c.Witness.Interval, DefaultWitnessInterval, 100*time.Millisecond)
}

// WitnessInterval is how often the box asks its peers to cosign.
func (c *Config) WitnessInterval() time.Duration {
	c.mustParsed()
	d, err := time.ParseDuration(c.Witness.Interval)
	if err != nil {
		return DefaultWitnessInterval
	}
	return d
}
