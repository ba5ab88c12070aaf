package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-tpm/legacy/tpm2"
)

// maxSealed is the TPM's limit on sealed data (MAX_SYM_DATA).
const maxSealed = 128

// sealTemplate is an ECC P-256 storage primary under the owner hierarchy.
// It is derived from the TPM's seed, so it is the same key after a restart
// and a different one on any other TPM.
var sealTemplate = tpm2.Public{
	Type:    tpm2.AlgECC,
	NameAlg: tpm2.AlgSHA256,
	Attributes: tpm2.FlagFixedTPM | tpm2.FlagFixedParent | tpm2.FlagSensitiveDataOrigin |
		tpm2.FlagUserWithAuth | tpm2.FlagRestricted | tpm2.FlagDecrypt | tpm2.FlagNoDA,
	ECCParameters: &tpm2.ECCParams{
		Symmetric: &tpm2.SymScheme{Alg: tpm2.AlgAES, KeyBits: 128, Mode: tpm2.AlgCFB},
		CurveID:   tpm2.CurveNISTP256,
	},
}

type sealedBlob struct {
	Version int    `json:"v"`
	PCRs    []int  `json:"pcrs"`
	Public  []byte `json:"public"`
	Private []byte `json:"private"`
}

func pcrSel(pcrs []int) tpm2.PCRSelection {
	return tpm2.PCRSelection{Hash: tpm2.AlgSHA256, PCRs: pcrs}
}

// Seal implements TPM.
func (c *tpmConn) Seal(ctx context.Context, secret []byte) ([]byte, error) {
	if len(secret) == 0 || len(secret) > maxSealed {
		return nil, fmt.Errorf("attest: seal: secret is %d bytes, want 1..%d", len(secret), maxSealed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	defer c.lock()()
	pcrs := DefaultPCRs()
	policy, err := c.pcrPolicyDigest(pcrs)
	if err != nil {
		return nil, fmt.Errorf("attest: seal: %w", err)
	}
	srk, _, err := tpm2.CreatePrimary(c.rw, tpm2.HandleOwner, tpm2.PCRSelection{}, "", "", sealTemplate)
	if err != nil {
		return nil, fmt.Errorf("attest: seal: create storage key: %w", err)
	}
	defer tpm2.FlushContext(c.rw, srk)
	priv, pub, err := tpm2.Seal(c.rw, srk, "", "", policy, secret)
	if err != nil {
		return nil, fmt.Errorf("attest: seal: %w", err)
	}
	return json.Marshal(sealedBlob{Version: 1, PCRs: pcrs, Public: pub, Private: priv})
}

func (c *tpmConn) pcrPolicyDigest(pcrs []int) ([]byte, error) {
	sess, _, err := tpm2.StartAuthSession(c.rw, tpm2.HandleNull, tpm2.HandleNull,
		make([]byte, 16), nil, tpm2.SessionTrial, tpm2.AlgNull, tpm2.AlgSHA256)
	if err != nil {
		return nil, fmt.Errorf("start trial session: %w", err)
	}
	defer tpm2.FlushContext(c.rw, sess)
	if err := tpm2.PolicyPCR(c.rw, sess, nil, pcrSel(pcrs)); err != nil {
		return nil, fmt.Errorf("policy PCR: %w", err)
	}
	return tpm2.PolicyGetDigest(c.rw, sess)
}

// Unseal implements TPM.
func (c *tpmConn) Unseal(ctx context.Context, blob []byte) ([]byte, error) {
	var b sealedBlob
	if len(blob) > 8192 {
		return nil, fmt.Errorf("attest: unseal: blob is %d bytes, too large", len(blob))
	}
	if err := json.Unmarshal(blob, &b); err != nil || b.Version != 1 || len(b.PCRs) == 0 {
		return nil, fmt.Errorf("attest: unseal: not a sealed blob: %w", errors.Join(ErrUnseal, err))
	}
	for _, p := range b.PCRs {
		if p < 0 || p > 23 {
			return nil, fmt.Errorf("attest: unseal: PCR %d out of range: %w", p, ErrUnseal)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	defer c.lock()()
	srk, _, err := tpm2.CreatePrimary(c.rw, tpm2.HandleOwner, tpm2.PCRSelection{}, "", "", sealTemplate)
	if err != nil {
		return nil, fmt.Errorf("attest: unseal: create storage key: %w", err)
	}
	defer tpm2.FlushContext(c.rw, srk)
	obj, _, err := tpm2.Load(c.rw, srk, "", b.Public, b.Private)
	if err != nil {
		// The blob's integrity is bound to this TPM's storage key.
		return nil, fmt.Errorf("attest: unseal: load (sealed by another TPM?): %w: %w", err, ErrUnseal)
	}
	defer tpm2.FlushContext(c.rw, obj)
	sess, _, err := tpm2.StartAuthSession(c.rw, tpm2.HandleNull, tpm2.HandleNull,
		make([]byte, 16), nil, tpm2.SessionPolicy, tpm2.AlgNull, tpm2.AlgSHA256)
	if err != nil {
		return nil, fmt.Errorf("attest: unseal: start policy session: %w", err)
	}
	defer tpm2.FlushContext(c.rw, sess)
	if err := tpm2.PolicyPCR(c.rw, sess, nil, pcrSel(b.PCRs)); err != nil {
		return nil, fmt.Errorf("attest: unseal: policy PCR: %w", err)
	}
	out, err := tpm2.UnsealWithSession(c.rw, sess, obj, "")
	if err != nil {
		return nil, fmt.Errorf("attest: unseal: boot PCRs differ from when the secret was sealed: %w: %w", err, ErrUnseal)
	}
	return out, nil
}
