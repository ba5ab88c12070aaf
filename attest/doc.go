// Package attest produces channel-bound evidence from a TPM, appraises a
// peer's evidence against manufacturer roots, enrollment, firmware
// manifests and policy, and returns verdicts and signed attestation
// reports. It opens a hardware TPM itself (OpenDevice); the simulator,
// swtpm and the development CA are in attest/devtpm, which builds on
// OpenTransport, so that verifying never links the cgo simulator.
//
// The protocol between an attesting box (A) and a verifying box (V):
//
//	A: Attester.Identity                 -> Identity (EK cert from NV, AK params)
//	V: Verifier.Challenge(peer, id)      -> Challenge (EK chain, enrollment, MakeCredential)
//	A: Attester.ActivateCredential(ch)   -> ChallengeResponse (only the EK's own TPM can answer)
//	V: Verifier.Activate(peer, resp)        the AK is now trusted for peer
//	V: Verifier.Nonce(peer)              -> fresh single-use nonce
//	A: Attester.Evidence(nonce, wg, rk)  -> Evidence: quote with extraData =
//	                                        SHA-256("wardgate/attest/v1"||nonce||wg||rk)
//	V: Verifier.Appraise(peer, nonce, ev, wg, rk) -> Verdict + signed Report
//
// Refusals are failing verdicts whose reasons carry the stable Reason*
// codes; Challenge and Activate also return them as *RefusalError, and the
// verifier remembers them so the next Appraise reports them too.
package attest
