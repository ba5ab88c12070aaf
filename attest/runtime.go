package attest

import (
	"encoding/hex"
	"fmt"

	gattest "github.com/google/go-attestation/attest"

	"github.com/wardgate/wardgate/attest/ima"
)

// MaxRuntimeLogSize bounds the runtime list in one evidence message.
const MaxRuntimeLogSize = 2 << 20

// RuntimeLog is a box's IMA measurement list from entry From on, in the
// kernel's binary format: a verifier asks only for the entries after the
// position it has already verified, so a long-running box does not resend
// its whole history every round.
type RuntimeLog struct {
	From    uint64 `json:"from"`
	Entries []byte `json:"entries"`
}

func (l *RuntimeLog) check() error {
	if len(l.Entries) > MaxRuntimeLogSize {
		return fmt.Errorf("%w: evidence: field \"runtime.entries\" is %d bytes, limit %d", ErrMalformed, len(l.Entries), MaxRuntimeLogSize)
	}
	return nil
}

// RuntimeSource is a box's runtime measurement list: the kernel's IMA list
// on a real box, or the simulated one (attest/ima.Measurer).
type RuntimeSource interface {
	// Since returns the binary entries from index from on.
	Since(from uint64) ([]byte, error)
}

// runtimePos is how far a verifier has verified one peer's runtime list:
// the number of entries, and PCR 10 after them.
type runtimePos struct {
	n   uint64
	pcr [32]byte
}

// RuntimeFrom is the position from which the verifier wants peer's
// runtime list next (0 after activation).
func (v *Verifier) RuntimeFrom(peer string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.peers[peer]; st != nil {
		return st.runtime.n
	}
	return 0
}

// checkRuntime replays the new runtime entries from the peer's last
// verified position to the quoted PCR 10, then appraises every entry the
// quote covers against the signed runtime policy. The position advances
// only when every entry is approved, so an unapproved one is found again
// each round until the box reboots.
func (v *Verifier) checkRuntime(peer string, ev *Evidence, pcrs []gattest.PCR) []Reason {
	if v.runtime == nil {
		return nil
	}
	if !v.runtime.Verified() {
		return []Reason{*reasonf(ReasonRuntimePolicy, "the runtime policy's signature was never verified")}
	}
	quoted, ok := pcrValue(pcrs, ima.PCR)
	if !ok {
		return []Reason{*reasonf(ReasonPCRSelection, "the quote does not cover PCR %d, where runtime measurements go", ima.PCR)}
	}
	v.mu.Lock()
	pos := v.state(peer).runtime
	v.mu.Unlock()
	entries, pos, r := runtimeEntries(ev.Runtime, pos)
	if r != nil {
		return []Reason{*r}
	}
	n := ima.Replay(pos.pcr, entries, quoted)
	if n < 0 {
		// Ask for the whole list next time: a box that rebooted (same AK)
		// starts its list again, and a full replay proves as much.
		v.mu.Lock()
		v.state(peer).runtime = runtimePos{}
		v.mu.Unlock()
		return []Reason{*reasonf(ReasonRuntimeLogInvalid, "the runtime list from entry %d does not replay to the quoted PCR %d: entries are missing, reordered or altered", pos.n, ima.PCR)}
	}
	out := v.unapproved(entries[:n])
	if len(out) == 0 {
		v.mu.Lock()
		v.state(peer).runtime = runtimePos{n: pos.n + uint64(n), pcr: quoted}
		v.mu.Unlock()
	}
	return out
}

// runtimeEntries parses the evidence's list and checks it starts where the
// verifier stopped, or at the beginning (a box that rebooted sends its
// whole new list); it returns the position the list starts from.
func runtimeEntries(l *RuntimeLog, pos runtimePos) ([]ima.Entry, runtimePos, *Reason) {
	if l == nil {
		return nil, pos, reasonf(ReasonRuntimeLogInvalid, "the evidence carries no runtime measurement list")
	}
	if l.From != pos.n && l.From != 0 {
		return nil, pos, reasonf(ReasonRuntimeLogInvalid, "the runtime list starts at entry %d; this verifier has verified %d", l.From, pos.n)
	}
	if l.From == 0 {
		pos = runtimePos{}
	}
	es, err := ima.Parse(l.Entries)
	if err != nil {
		return nil, pos, reasonf(ReasonRuntimeLogInvalid, "%v", err)
	}
	return es, pos, nil
}

func (v *Verifier) unapproved(es []ima.Entry) []Reason {
	var out []Reason
	for _, e := range es {
		if e.PCR == ima.PCR && !v.runtime.Approves(e.Path, e.Digest[:]) {
			out = append(out, *reasonf(ReasonRuntimeUnapproved, "%s with sha256 %s is not approved by runtime policy %s", e.Path, hex.EncodeToString(e.Digest[:]), v.runtime.Version))
		}
	}
	return out
}

func pcrValue(pcrs []gattest.PCR, index int) ([32]byte, bool) {
	var out [32]byte
	for _, p := range pcrs {
		if p.Index == index && len(p.Digest) == len(out) {
			copy(out[:], p.Digest)
			return out, true
		}
	}
	return out, false
}

// bootPCRs leaves out the runtime PCR: the TCG event log says nothing
// about it, and its own list replays it.
func bootPCRs(pcrs []gattest.PCR) []gattest.PCR {
	var out []gattest.PCR
	for _, p := range pcrs {
		if p.Index != ima.PCR {
			out = append(out, p)
		}
	}
	return out
}
