package config

import (
	"errors"
	"fmt"
	"os"
)

// CheckFiles checks that every file and directory the config names exists
// (what --check-config adds to Validate).
func (c *Config) CheckFiles() error {
	k := &checker{}
	c.checkAttestationFiles(k)
	for i, fc := range c.Firmware.Image {
		k.file(fmt.Sprintf("firmware.image[%d].file", i), fc.File)
	}
	if c.TPM.Source == TPMDevice {
		k.file("tpm.path", c.TPM.Path)
	}
	k.file("chain.embedded.passphrase_file", c.Chain.Embedded.PassphraseFile)
	k.file("chain.rpc.keystore", c.Chain.RPC.Keystore)
	k.file("chain.rpc.passphrase_file", c.Chain.RPC.PassphraseFile)
	k.file("api.tls_cert", c.API.TLSCert)
	k.file("api.tls_key", c.API.TLSKey)
	k.file("api.client_ca", c.API.ClientCA)
	k.file("records.tls_cert", c.Records.TLSCert)
	k.file("records.tls_key", c.Records.TLSKey)
	k.file("records.client_ca", c.Records.ClientCA)
	k.file("metrics.tls_cert", c.Metrics.TLSCert)
	k.file("metrics.tls_key", c.Metrics.TLSKey)
	k.file("metrics.client_ca", c.Metrics.ClientCA)
	c.checkDeliverFiles(k)
	c.checkAuditFiles(k)
	if len(k.errs) > 0 {
		return k.errs
	}
	return nil
}

func (c *Config) checkAttestationFiles(k *checker) {
	a := c.Attestation
	k.dir("attestation.manufacturer_roots", a.ManufacturerRoots)
	for i, m := range a.Manifests {
		k.file(fmt.Sprintf("attestation.manifests[%d].path", i), m.Path)
		k.file(fmt.Sprintf("attestation.manifests[%d].signature", i), m.Signature)
	}
	for i, v := range a.VendorKeys {
		k.file(fmt.Sprintf("attestation.vendor_keys[%d]", i), v)
	}
	k.file("attestation.policy", a.Policy)
}

// file checks that p, if set, names an existing file.
func (k *checker) file(path, p string) {
	if p == "" {
		return
	}
	st, err := os.Stat(p)
	switch {
	case err != nil:
		k.add(path, "%s: %v; fix the path or create the file", p, unwrapPathErr(err))
	case st.IsDir():
		k.add(path, "%s is a directory; name a file", p)
	}
}

// dir checks that p, if set, names an existing directory.
func (k *checker) dir(path, p string) {
	if p == "" {
		return
	}
	st, err := os.Stat(p)
	switch {
	case err != nil:
		k.add(path, "%s: %v; fix the path or create the directory", p, unwrapPathErr(err))
	case !st.IsDir():
		k.add(path, "%s is not a directory", p)
	}
}

// unwrapPathErr drops the path from a stat error: the message names it
// already, next to the config key.
func unwrapPathErr(err error) error {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
