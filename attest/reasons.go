package attest

import (
	"errors"
	"fmt"
)

// Stable reason codes. Scripts and tests match on these; never rename one.
const (
	ReasonEvidenceMalformed   = "evidence-malformed"   // truncated, garbage or structurally invalid evidence
	ReasonIdentityMalformed   = "identity-malformed"   // identity message unusable
	ReasonEKUnknownCA         = "ek-unknown-ca"        // EK certificate does not chain to a trusted manufacturer root
	ReasonDeviceUnenrolled    = "device-unenrolled"    // EK is not on the enrollment list for this peer
	ReasonAKInvalid           = "ak-invalid"           // AK parameters are not a TPM-resident restricted signing key
	ReasonActivationFailed    = "activation-failed"    // credential activation failed: the AK is not in the EK's TPM
	ReasonNotActivated        = "ak-not-activated"     // no activated AK for this peer yet
	ReasonQuoteSignature      = "quote-signature"      // quote signature does not verify under the activated AK
	ReasonSHA1Only            = "sha1-only"            // evidence quotes only the SHA-1 bank
	ReasonNonceUnknown        = "nonce-unknown"        // nonce was never issued to this peer
	ReasonNonceReplayed       = "nonce-replayed"       // nonce was already used
	ReasonNonceStale          = "nonce-stale"          // nonce is older than the nonce TTL
	ReasonNonceSuperseded     = "nonce-superseded"     // a newer nonce was issued to this peer since
	ReasonQuoteBinding        = "quote-binding"        // quote extraData does not match nonce and keys in the evidence
	ReasonBoundKeyMismatch    = "bound-key-mismatch"   // keys bound in the quote differ from the ones presented
	ReasonPCRSelection        = "pcr-selection"        // quote does not cover the policy PCRs
	ReasonPCRMismatch         = "pcr-mismatch"         // PCR values in the evidence differ from the quoted ones
	ReasonEventLogMalformed   = "eventlog-malformed"   // event log cannot be parsed
	ReasonEventLogMismatch    = "eventlog-mismatch"    // event log does not replay to the quoted PCRs
	ReasonManifestSignature   = "manifest-signature"   // no reference manifest with a valid vendor signature
	ReasonComponentUnapproved = "component-unapproved" // a measured component is not in any manifest
	ReasonComponentMissing    = "component-missing"    // a component required by policy was not measured
	ReasonDaemonNotLast       = "daemon-not-last"      // the wardgated measurement is not the last one

	ReasonBatchNonceNotInTree = "batch-nonce-not-in-tree" // the round's nonce is not a leaf of the quoted batch
	ReasonBatchForeignProof   = "batch-foreign-proof"     // the inclusion proof is for another verifier's nonce
	ReasonBatchReplayed       = "batch-replayed"          // this batched quote was already presented to this verifier
	ReasonBatchRootMismatch   = "batch-root-mismatch"     // the batch root is not the one the quote binds
	ReasonBatchDowngrade      = "batch-downgrade"         // a peer that spoke v2 answered with unbatched v1 evidence

	ReasonChannelBinding = "channel-binding-mismatch" // the quote is bound to another TLS session than the verifier's, or a peer that bound before answered unbound

	ReasonRuntimeUnapproved = "runtime-unapproved"  // an executable measured at run time is not in the runtime policy
	ReasonRuntimeLogInvalid = "runtime-log-invalid" // the runtime measurement list is truncated, reordered or does not replay to PCR 10
	ReasonRuntimePolicy     = "runtime-policy"      // no runtime policy with a valid signature is configured
)

// RefusalError is returned by Challenge and Activate when they refuse a
// peer; Appraise reports the same reason in a failing verdict.
type RefusalError struct {
	Reason Reason
}

func (e *RefusalError) Error() string {
	return fmt.Sprintf("attest: refused (%s): %s", e.Reason.Code, e.Reason.Message)
}

func refuse(code, format string, args ...any) *RefusalError {
	return &RefusalError{Reason{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// ReasonCode returns the reason code carried by err, or "".
func ReasonCode(err error) string {
	var r *RefusalError
	if errors.As(err, &r) {
		return r.Reason.Code
	}
	return ""
}

// ErrMalformed wraps every Parse* error.
var ErrMalformed = errors.New("attest: malformed message")
