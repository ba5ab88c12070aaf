// Package contracts holds the wardgate checkpoint anchor contract
// (Anchor.sol), its compiled ABI and bytecode, and the abigen v2 bindings in
// anchor.go. Run `make contracts` at the repo root to regenerate them.
package contracts
