package config

import (
	"fmt"
	"os"
)

// CheckFiles checks that every file and directory the config names exists
// (what --check-config adds to Validate).
func (c *Config) CheckFiles() error {
	k := &checker{}
	file := func(path, p string) {
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
	dir := func(path, p string) {
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
	dir("attestation.manufacturer_roots", c.Attestation.ManufacturerRoots)
	for i, m := range c.Attestation.Manifests {
		file(fmt.Sprintf("attestation.manifests[%d].path", i), m.Path)
		file(fmt.Sprintf("attestation.manifests[%d].signature", i), m.Signature)
	}
	for i, v := range c.Attestation.VendorKeys {
		file(fmt.Sprintf("attestation.vendor_keys[%d]", i), v)
	}
	file("attestation.policy", c.Attestation.Policy)
	for i, fc := range c.Firmware.Image {
		file(fmt.Sprintf("firmware.image[%d].file", i), fc.File)
	}
	if c.TPM.Source == TPMDevice {
		file("tpm.path", c.TPM.Path)
	}
	file("chain.embedded.passphrase_file", c.Chain.Embedded.PassphraseFile)
	file("chain.rpc.keystore", c.Chain.RPC.Keystore)
	file("chain.rpc.passphrase_file", c.Chain.RPC.PassphraseFile)
	file("api.tls_cert", c.API.TLSCert)
	file("api.tls_key", c.API.TLSKey)
	file("api.client_ca", c.API.ClientCA)
	file("records.tls_cert", c.Records.TLSCert)
	file("records.tls_key", c.Records.TLSKey)
	file("records.client_ca", c.Records.ClientCA)
	if len(k.errs) > 0 {
		return k.errs
	}
	return nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
