// Package ledger signs record digests, journals them durably, keeps the
// per-box RFC 9162 Merkle log, signs and anchors checkpoints on an
// Ethereum-compatible chain, and issues and verifies receipts.
//
// A box opens one Ledger on its state dir with its record-signing key and,
// optionally, a Chain (StartEmbedded for the in-process dev chain, DialRPC
// for an external endpoint, NewChain for any Backend). Append signs an
// entry (one Ed25519 signature per signing batch, see BatchProof), journals
// it with group commit in a write-ahead log in front of bbolt, and returns
// once it is fdatasync'd. A checkpoint (size, root, time) is signed every
// few seconds or every N entries (or with every commit that holds a sent
// record, with CheckpointEachCommit) and the newest one is anchored on the
// Anchor contract (ledger/contracts): one transaction per checkpoint, never
// per record.
// Receipt returns an inclusion proof to an anchored checkpoint, or a pending
// receipt that Upgrade later anchors. Verify checks a receipt offline
// (signatures, proof, record digest) and online (the root is in an Anchored
// event of the trusted contract, sent by a registered gateway, and how deep).
//
// Anchoring survives faults: the in-flight transaction is journaled before
// it is sent, and before sending anything the anchorer asks the contract
// what this gateway has already anchored, so a restart never anchors a
// checkpoint twice. While the chain is down entries keep being journaled and
// only the newest checkpoint of the backlog is anchored when it returns;
// consistency proofs link it to the checkpoints in between.
package ledger
