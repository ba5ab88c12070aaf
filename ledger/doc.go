// Package ledger signs record digests, journals them durably, keeps the
// per-box RFC 9162 Merkle log, signs and anchors checkpoints on an
// Ethereum-compatible chain, and issues and verifies receipts.
package ledger
