// Package firmware holds signed firmware reference manifests, plays a measured
// boot into a simulated TPM while writing the TCG crypto-agile event log, and
// reads the event log of a real box.
package firmware
