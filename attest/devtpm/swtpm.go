package devtpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/wardgate/wardgate/attest"
)

// OpenSWTPM connects to a swtpm started with
// `swtpm socket --tpm2 --server type=tcp,port=P --flags not-need-init,startup-clear`.
func OpenSWTPM(ctx context.Context, addr string) (attest.TPM, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devtpm: connect to swtpm at %s: %w", addr, err)
	}
	return attest.OpenTransport(attest.Transport{Kind: "swtpm", RW: &framedConn{c: nc}, Close: nc.Close})
}

// framedConn turns a stream into the one-read-per-response transport go-tpm
// expects: it reads the whole response (its size is in the header).
type framedConn struct {
	c   net.Conn
	buf bytes.Buffer
}

func (f *framedConn) Write(b []byte) (int, error) { return f.c.Write(b) }

func (f *framedConn) Read(b []byte) (int, error) {
	if f.buf.Len() == 0 {
		var hdr [10]byte
		if _, err := io.ReadFull(f.c, hdr[:]); err != nil {
			return 0, fmt.Errorf("swtpm: read response header: %w", err)
		}
		size := binary.BigEndian.Uint32(hdr[2:6])
		if size < 10 || size > 1<<16 {
			return 0, fmt.Errorf("swtpm: response size %d out of range", size)
		}
		f.buf.Write(hdr[:])
		if _, err := io.CopyN(&f.buf, f.c, int64(size-10)); err != nil {
			return 0, fmt.Errorf("swtpm: read response body: %w", err)
		}
	}
	return f.buf.Read(b)
}

// SWTPMReboot power-cycles a swtpm through its control channel and starts
// it again (TPM2_Startup(CLEAR)), so its PCRs are reset before the boot is
// played back: each daemon start is one boot. Without it the PCRs of the
// previous run would still be extended and the event log would not replay.
// An empty ctrlAddr means swtpm's convention: the command port plus one.
func SWTPMReboot(ctx context.Context, cmdAddr, ctrlAddr string) error {
	if ctrlAddr == "" {
		host, port, err := net.SplitHostPort(cmdAddr)
		if err != nil {
			return err
		}
		p, _ := strconv.Atoi(port)
		ctrlAddr = net.JoinHostPort(host, strconv.Itoa(p+1)) // swtpm's convention
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// CMD_INIT (0x02) with flags 0: the simulated power-on reset.
	if err := exchange(ctx, ctrlAddr, []byte{0, 0, 0, 2, 0, 0, 0, 0}, 4, func(resp []byte) error {
		if rc := binary.BigEndian.Uint32(resp); rc != 0 {
			return fmt.Errorf("swtpm CMD_INIT on %s failed with 0x%x", ctrlAddr, rc)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("power-cycling swtpm via its control channel %s (set tpm.ctrl_address): %w", ctrlAddr, err)
	}
	// TPM2_Startup(TPM_SU_CLEAR).
	startup := []byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0}
	return exchange(ctx, cmdAddr, startup, 10, func(resp []byte) error {
		rc := binary.BigEndian.Uint32(resp[6:10])
		if rc != 0 && rc != 0x100 { // 0x100: TPM_RC_INITIALIZE, already started
			return fmt.Errorf("swtpm TPM2_Startup failed with 0x%x", rc)
		}
		return nil
	})
}

// exchange sends one request on a fresh connection and checks the
// fixed-size reply.
func exchange(ctx context.Context, addr string, req []byte, respLen int, check func([]byte) error) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write(req); err != nil {
		return err
	}
	resp := make([]byte, respLen)
	if _, err := io.ReadFull(c, resp); err != nil {
		return err
	}
	return check(resp)
}
