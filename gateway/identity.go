package gateway

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/gateway/config"
)

// Identity is what `wardgated --identity` prints: what the other boxes
// need to enroll this one (ek), and the measurements a vendor signs into a
// manifest (components, in firmware.Component form, wardgated last).
type Identity struct {
	Box        string               `json:"box"`
	TPM        string               `json:"tpm"`
	EK         string               `json:"ek"`
	DevCACert  string               `json:"dev_ca_cert,omitempty"` // copy into every box's manufacturer_roots
	Components []firmware.Component `json:"components"`
}

func PrintIdentity(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Identity, error) {
	d := &Gateway{cfg: cfg, log: log}
	defer func() {
		for i := len(d.closers) - 1; i >= 0; i-- {
			d.closers[i]()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	// Neither reboot nor extend anything: the box may be running. The EK
	// does not depend on the PCRs, and the measurements are computed here.
	if err := d.openTPM(ctx, false); err != nil {
		return nil, fmt.Errorf("tpm: %w", err)
	}
	if cfg.TPM.Source != config.TPMDevice {
		comps, err := bootComponents(cfg)
		if err != nil {
			return nil, fmt.Errorf("firmware: %w", err)
		}
		d.boot = comps
	}
	a, err := attest.NewAttester(ctx, d.tpm, attest.AttesterConfig{StateDir: cfg.StateDir, EventLog: []byte{}, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("attester: %w", err)
	}
	defer a.Close()
	out := &Identity{Box: cfg.Box, TPM: d.tpm.Kind(), EK: a.EKFingerprint(), Components: []firmware.Component{}}
	if cfg.TPM.DevCA != "" {
		out.DevCACert = filepath.Join(cfg.TPM.DevCA, "ca.pem")
	}
	for _, c := range d.boot {
		out.Components = append(out.Components, firmware.Component{Name: c.Name, Version: c.Version, SHA256: hex.EncodeToString(c.Digest), PCR: c.PCR})
	}
	return out, nil
}
