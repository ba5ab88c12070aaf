package gateway

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// swtpmReboot power-cycles a swtpm through its control channel and starts
// it again (TPM2_Startup(CLEAR)), so its PCRs are reset before the boot is
// played back: each daemon start is one boot. Without it the PCRs of the
// previous run would still be extended and the event log would not replay.
func swtpmReboot(ctx context.Context, cmdAddr, ctrlAddr string) error {
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
