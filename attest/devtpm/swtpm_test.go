package devtpm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/attesttest"
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/internal/testutil"
)

// startSWTPM runs a real swtpm process for the test and returns its command
// and control addresses (both TCP, as the daemon reaches them).
func startSWTPM(t *testing.T) (cmdAddr, ctrlAddr string) {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("SKIPPED: swtpm is not installed (apt-get install swtpm; CI installs it)")
	}
	state := t.TempDir()
	for attempt := 0; attempt < 3; attempt++ {
		cmdPort, ctrlPort := testutil.FreePort(t), testutil.FreePort(t)
		cmdAddr = fmt.Sprintf("127.0.0.1:%d", cmdPort)
		ctrlAddr = fmt.Sprintf("127.0.0.1:%d", ctrlPort)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "socket", "--tpm2",
			"--server", fmt.Sprintf("type=tcp,bindaddr=127.0.0.1,port=%d", cmdPort),
			"--ctrl", fmt.Sprintf("type=tcp,bindaddr=127.0.0.1,port=%d", ctrlPort),
			"--flags", "not-need-init,startup-clear",
			"--tpmstate", "dir="+state)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cancel(); <-exited })
		up := false
		testutil.WaitForWithin(t, 10*time.Second, "swtpm to listen on "+cmdAddr, func() bool {
			select {
			case <-exited: // e.g. a port was taken meanwhile: try others
				return true
			default:
			}
			if c, err := net.Dial("tcp", cmdAddr); err == nil {
				c.Close()
				up = true
			}
			return up
		})
		if up {
			return cmdAddr, ctrlAddr
		}
		t.Logf("swtpm exited: %s", stderr.String())
		cancel()
	}
	t.Fatal("swtpm did not start")
	return "", ""
}

func TestSWTPM(t *testing.T) {
	addr, ctrl := startSWTPM(t)
	ctx, cancel := context.WithTimeout(testCtx, time.Minute)
	defer cancel()
	tp, err := devtpm.OpenSWTPM(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if tp.Kind() != "swtpm" {
		t.Fatalf("Kind = %q", tp.Kind())
	}
	blob, err := tp.Seal(ctx, []byte("swtpm secret")) // sealed to the reset PCRs
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tp.Unseal(ctx, blob); err != nil || string(got) != "swtpm secret" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	ca := mustCA(t)
	a, _ := boot(t, tp, ca, "")
	v := verifier(t, ca, "hospital-c", a)
	wg, rk := keys()
	vd, r, err := attesttest.Attest(ctx, v, a, "hospital-c", wg, rk)
	if err != nil || !vd.Passed() {
		t.Fatalf("swtpm evidence refused: %v %v", err, vd.Reasons())
	}
	if len(r.Components) != 4 {
		t.Fatalf("report components = %+v", r.Components)
	}

	// Tampering after boot shows up at the next appraisal.
	d := sha256.Sum256([]byte("late module"))
	if err := tp.ExtendPCR(ctx, 8, d[:]); err != nil {
		t.Fatal(err)
	}
	vd, _, err = attesttest.Attest(ctx, v, a, "hospital-c", wg, rk)
	if err != nil || !slices.ContainsFunc(vd.Reasons(), func(x attest.Reason) bool { return x.Code == attest.ReasonEventLogMismatch }) {
		t.Fatalf("after a late extend: %v %v, want %s", err, vd.Reasons(), attest.ReasonEventLogMismatch)
	}
	if _, err := tp.Unseal(ctx, blob); !errors.Is(err, attest.ErrUnseal) {
		t.Fatalf("Unseal after extend = %v, want ErrUnseal", err)
	}
	a.Close()
	tp.Close()

	// A reboot through the control channel resets the PCRs: the secret
	// sealed before the boot unseals again, on the same persistent TPM.
	if err := devtpm.SWTPMReboot(ctx, addr, ctrl); err != nil {
		t.Fatal(err)
	}
	tp2, err := devtpm.OpenSWTPM(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tp2.Close()
	if got, err := tp2.Unseal(ctx, blob); err != nil || string(got) != "swtpm secret" {
		t.Fatalf("Unseal after reboot = %q, %v", got, err)
	}
}

func TestSWTPMRebootErrorsNameTheChannel(t *testing.T) {
	ctrl := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)) // nothing listens
	err := devtpm.SWTPMReboot(testCtx, "127.0.0.1:1", ctrl)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(ctrl)) {
		t.Fatalf("SWTPMReboot = %v, want an error naming %s", err, ctrl)
	}
	if err := devtpm.SWTPMReboot(testCtx, "no-port", ""); err == nil {
		t.Fatal("SWTPMReboot accepted a command address without a port")
	}
}
