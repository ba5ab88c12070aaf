package attest_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/attest/ima"
	"github.com/wardgate/wardgate/firmware"
)

// runtimeRig is a box whose IMA measures two executables, appraised by a
// verifier with a signed runtime policy.
type runtimeRig struct {
	box   *box
	meas  *ima.Measurer
	v     *attest.Verifier
	files []string
	wg    [32]byte
	rk    []byte
}

func digestHex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func signedRuntimePolicy(t *testing.T, p *firmware.RuntimePolicy) *firmware.RuntimePolicy {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	data, sig, err := firmware.SignRuntimePolicy(p, firmware.NewFileSigner(key))
	if err != nil {
		t.Fatal(err)
	}
	out, err := firmware.VerifyRuntimePolicy(data, sig, []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newRuntimeRig measures files (name -> content) and approves approved
// (path suffix -> contents) in the runtime policy.
func newRuntimeRig(t *testing.T, files map[string]string, approved map[string][]string) *runtimeRig {
	t.Helper()
	ca, err := devtpm.NewDevCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	tp, err := devtpm.OpenSimulator(dir(t, "b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	if err := ca.ProvisionEK(testCtx, tp); err != nil {
		t.Fatal(err)
	}
	log, err := firmware.Boot(testCtx, tp, goodComponents())
	if err != nil {
		t.Fatal(err)
	}
	r := &runtimeRig{}
	for _, name := range sortedKeys(files) {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o755); err != nil {
			t.Fatal(err)
		}
		r.files = append(r.files, p)
	}
	if r.meas, err = ima.NewMeasurer(testCtx, tp, r.files, nil); err != nil {
		t.Fatal(err)
	}
	a, err := attest.NewAttester(testCtx, tp, attest.AttesterConfig{
		StateDir: t.TempDir(), EventLog: log, PCRs: append(attest.DefaultPCRs(), ima.PCR), Runtime: r.meas,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.box = &box{tpm: tp, att: a, log: log}
	pol := &firmware.RuntimePolicy{Version: "runtime-3", Exclude: []string{"/var/log/"}}
	for _, name := range sortedKeys(approved) {
		e := firmware.RuntimeEntry{Path: filepath.Join(d, name)}
		for _, c := range approved[name] {
			e.SHA256 = append(e.SHA256, digestHex([]byte(c)))
		}
		pol.Allowed = append(pol.Allowed, e)
	}
	_, rk, _ := ed25519.GenerateKey(rand.Reader)
	r.v, err = attest.NewVerifier(attest.VerifierConfig{
		Name: "hospital-a", Roots: ca.Roots(), Enrollment: map[string]string{"b": a.EKFingerprint()},
		Manifests: []*firmware.Manifest{signedManifest(t, manifestFor("1", goodComponents()...))},
		ReportKey: rk, RuntimePolicy: signedRuntimePolicy(t, pol),
	})
	if err != nil {
		t.Fatal(err)
	}
	enroll(t, r.v, r.box, "b")
	r.wg, r.rk = keys()
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// evidence is one round's evidence, with the runtime list from where the
// verifier stands; edit, if set, changes it before appraisal.
func (r *runtimeRig) round(t *testing.T, edit func(*attest.Evidence)) (*attest.Verdict, *attest.Report) {
	t.Helper()
	ev := evidence(t, r.v, r.box, "b", r.wg, r.rk)
	if err := r.box.att.RuntimeSince(ev, r.v.RuntimeFrom("b")); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(ev)
	}
	return appraise(t, r.v, "b", ev, r.wg, r.rk)
}

func (r *runtimeRig) write(t *testing.T, i int, content string) {
	t.Helper()
	if err := os.WriteFile(r.files[i], []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	r.meas.Rescan(testCtx)
}

func (r *runtimeRig) mustPass(t *testing.T) {
	t.Helper()
	vd, _ := r.round(t, nil)
	if !vd.Passed() {
		t.Fatalf("refused: %v", vd.Reasons())
	}
}

var twoFiles = map[string]string{"wardgated": "wardgated 1.0", "helper": "helper 1.0"}

// TestRuntimeEditedExecutable: an executable changed while the box runs is
// measured again, and the verifier refuses it naming path and digest.
func TestRuntimeEditedExecutable(t *testing.T) {
	r := newRuntimeRig(t, twoFiles, map[string][]string{"wardgated": {"wardgated 1.0"}, "helper": {"helper 1.0"}})
	r.mustPass(t)
	r.write(t, 1, "wardgated 1.0 with a rootkit")
	vd, rep := r.round(t, nil)
	wantRefused(t, vd, rep, attest.ReasonRuntimeUnapproved)
	msg := vd.Reasons()[0].Message
	if !strings.Contains(msg, r.files[1]) || !strings.Contains(msg, digestHex([]byte("wardgated 1.0 with a rootkit"))) {
		t.Fatalf("reason does not name the path and digest: %s", msg)
	}
	// It stays refused: the bad entry is found again next round.
	vd, rep = r.round(t, nil)
	wantRefused(t, vd, rep, attest.ReasonRuntimeUnapproved)
}

// TestRuntimeUnknownExecutable: a measured executable the policy does not
// name is refused.
func TestRuntimeUnknownExecutable(t *testing.T) {
	r := newRuntimeRig(t, twoFiles, map[string][]string{"wardgated": {"wardgated 1.0"}})
	vd, rep := r.round(t, nil)
	wantRefused(t, vd, rep, attest.ReasonRuntimeUnapproved)
}

// TestRuntimeApprovedUpgrade: a new version listed beside the old one in
// the policy passes, before and after the upgrade.
func TestRuntimeApprovedUpgrade(t *testing.T) {
	r := newRuntimeRig(t, twoFiles, map[string][]string{"wardgated": {"wardgated 1.0", "wardgated 1.1"}, "helper": {"helper 1.0"}})
	r.mustPass(t)
	r.write(t, 1, "wardgated 1.1")
	r.mustPass(t)
	// Incremental: the second round sent only the entry after the first.
	if got := r.v.RuntimeFrom("b"); got != 3 {
		t.Fatalf("verified position = %d, want 3", got)
	}
}

// TestRuntimeListTampered: a list that is truncated, reordered or starts
// elsewhere than the verifier stopped does not replay, with a named reason.
func TestRuntimeListTampered(t *testing.T) {
	approved := map[string][]string{"wardgated": {"wardgated 1.0"}, "helper": {"helper 1.0"}}
	for name, edit := range map[string]func(*attest.Evidence){
		"truncated": func(ev *attest.Evidence) {
			es, _ := ima.Parse(ev.Runtime.Entries)
			ev.Runtime.Entries = ima.Marshal(es[:1])
		},
		"reordered": func(ev *attest.Evidence) {
			es, _ := ima.Parse(ev.Runtime.Entries)
			ev.Runtime.Entries = ima.Marshal([]ima.Entry{es[1], es[0]})
		},
		"wrong start": func(ev *attest.Evidence) { ev.Runtime.From = 1 },
		"missing":     func(ev *attest.Evidence) { ev.Runtime = nil },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRuntimeRig(t, twoFiles, approved)
			vd, rep := r.round(t, edit)
			wantRefused(t, vd, rep, attest.ReasonRuntimeLogInvalid)
		})
	}
}
