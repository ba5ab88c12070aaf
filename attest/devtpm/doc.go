// Package devtpm opens the TPMs of development and test boxes: the
// in-process go-tpm-tools simulator (cgo), swtpm over TCP, and a
// development "manufacturer" CA that issues their EK certificates.
//
// It lives apart from attest so that the simulator and its cgo never reach
// a binary that only verifies: the wardgate CLI imports attest, never this.
// Only the daemon (for tpm.source simulator or swtpm), tests and the dev
// tooling import it.
package devtpm
