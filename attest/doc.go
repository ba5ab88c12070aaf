// Package attest opens TPMs (a device, the in-process simulator, or swtpm),
// produces channel-bound evidence, appraises a peer's evidence against
// manufacturer roots, enrollment, firmware manifests and policy, and returns
// verdicts and signed attestation reports.
package attest
