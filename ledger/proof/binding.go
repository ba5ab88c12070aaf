package proof

import (
	"crypto/ed25519"

	"github.com/ethereum/go-ethereum/crypto"
)

// LogHash is how the anchor contract names a box's log: keccak256 of the
// log (box) name. The gateway anchors with it, the admin registers with it
// and verifiers check the binding with it.
func LogHash(log string) [32]byte { return crypto.Keccak256Hash([]byte(log)) }

// KeyHash is how the anchor contract names a record key: keccak256 of the
// 32-byte Ed25519 public key.
func KeyHash(k ed25519.PublicKey) [32]byte { return crypto.Keccak256Hash(k) }
