package firmware

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// MaxManifestSize bounds a manifest file; real manifests are a few KiB.
const MaxManifestSize = 1 << 20

// maxComponents bounds the number of approved component versions.
const maxComponents = 4096

// Named errors returned by LoadManifest and VerifyManifest.
var (
	// ErrManifestUnsigned means the detached signature is missing or empty.
	ErrManifestUnsigned = errors.New("firmware: manifest has no signature")
	// ErrManifestSignature means the signature does not verify under any
	// configured vendor key.
	ErrManifestSignature = errors.New("firmware: manifest signature does not verify under any vendor key")
	// ErrManifestInvalid means the manifest bytes are not a valid manifest.
	ErrManifestInvalid = errors.New("firmware: invalid manifest")
)

// Component is one approved measured component: a named image at a version,
// its SHA-256 digest and the PCR it is measured into. Several versions of the
// same component may be approved at once so that rolling upgrades work.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"` // lower-case hex
	PCR     int    `json:"pcr"`
	// SBOMSHA256 is the digest of the component's CycloneDX SBOM, which
	// ties the approved binary to its bill of materials (release builds).
	SBOMSHA256 string `json:"sbom_sha256,omitempty"`
}

// Manifest is a vendor's list of approved components (reference values).
type Manifest struct {
	Vendor     string      `json:"vendor"`
	Version    string      `json:"version"`
	Components []Component `json:"components"`

	// verified is set only by VerifyManifest/LoadManifest, so a verifier can
	// refuse manifests whose signature was never checked.
	verified bool
}

// Verified reports whether the manifest came through a signature check.
func (m *Manifest) Verified() bool { return m != nil && m.verified }

// Lookup returns the approved component with this digest (hex or raw), if any.
func (m *Manifest) Lookup(digest []byte) (Component, bool) {
	h := hex.EncodeToString(digest)
	for _, c := range m.Components {
		if c.SHA256 == h {
			return c, true
		}
	}
	return Component{}, false
}

// Names returns the distinct component names, sorted.
func (m *Manifest) Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range m.Components {
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

// ParseManifest parses and validates manifest JSON. The result is not
// verified: use VerifyManifest or LoadManifest for that.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrManifestInvalid, len(data), MaxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifestInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the manifest object", ErrManifestInvalid)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if strings.TrimSpace(m.Vendor) == "" {
		return fmt.Errorf("%w: field \"vendor\" is empty; set it to the vendor's name", ErrManifestInvalid)
	}
	if strings.TrimSpace(m.Version) == "" {
		return fmt.Errorf("%w: field \"version\" is empty; set it to the manifest's release version", ErrManifestInvalid)
	}
	if len(m.Components) == 0 {
		return fmt.Errorf("%w: field \"components\" is empty; list at least one approved component", ErrManifestInvalid)
	}
	if len(m.Components) > maxComponents {
		return fmt.Errorf("%w: %d components exceeds the limit of %d", ErrManifestInvalid, len(m.Components), maxComponents)
	}
	seen := map[string]bool{}
	for i, c := range m.Components {
		if c.Name == "" || c.Version == "" {
			return fmt.Errorf("%w: components[%d]: \"name\" and \"version\" must be set", ErrManifestInvalid, i)
		}
		d, err := hex.DecodeString(c.SHA256)
		if err != nil || len(d) != 32 || c.SHA256 != strings.ToLower(c.SHA256) {
			return fmt.Errorf("%w: components[%d] (%s %s): \"sha256\" must be 64 lower-case hex characters", ErrManifestInvalid, i, c.Name, c.Version)
		}
		if sb, err := hex.DecodeString(c.SBOMSHA256); c.SBOMSHA256 != "" && (err != nil || len(sb) != 32 || c.SBOMSHA256 != strings.ToLower(c.SBOMSHA256)) {
			return fmt.Errorf("%w: components[%d] (%s %s): \"sbom_sha256\" must be 64 lower-case hex characters or absent", ErrManifestInvalid, i, c.Name, c.Version)
		}
		if c.PCR < 0 || c.PCR > 23 {
			return fmt.Errorf("%w: components[%d] (%s %s): \"pcr\" %d is outside 0..23", ErrManifestInvalid, i, c.Name, c.Version, c.PCR)
		}
		key := c.Name + "\x00" + c.Version
		if seen[key] {
			return fmt.Errorf("%w: components[%d]: %s %s is listed twice", ErrManifestInvalid, i, c.Name, c.Version)
		}
		seen[key] = true
	}
	return nil
}

// Canonical returns the manifest's canonical JSON: components sorted by
// name then version, no insignificant whitespace.
func (m *Manifest) Canonical() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	c := Manifest{Vendor: m.Vendor, Version: m.Version, Components: append([]Component(nil), m.Components...)}
	sort.Slice(c.Components, func(i, j int) bool {
		a, b := c.Components[i], c.Components[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	})
	return json.Marshal(&c)
}

// SignManifest returns the canonical manifest JSON and its detached Ed25519
// signature (base64 text, as written next to the manifest file): the
// signing path of `wardgate manifest sign`, with the key in memory.
func SignManifest(m *Manifest, key ed25519.PrivateKey) (manifestJSON, sig []byte, err error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, nil, errors.New("firmware: vendor key is not an Ed25519 private key")
	}
	return SignManifestWith(m, NewFileSigner(key))
}

// VerifyManifest checks the detached signature over the exact manifest bytes
// against the vendor keys, then parses the manifest.
func VerifyManifest(manifestJSON, sig []byte, vendorKeys []ed25519.PublicKey) (*Manifest, error) {
	if _, err := checkDetached(manifestJSON, sig, vendorKeys); err != nil {
		return nil, err
	}
	m, err := ParseManifest(manifestJSON)
	if err != nil {
		return nil, err
	}
	m.verified = true
	return m, nil
}

// checkDetached verifies a detached base64 Ed25519 signature over data
// and returns the key that made it.
func checkDetached(data, sig []byte, vendorKeys []ed25519.PublicKey) (ed25519.PublicKey, error) {
	s := bytes.TrimSpace(sig)
	if len(s) == 0 {
		return nil, ErrManifestUnsigned
	}
	raw, err := base64.StdEncoding.DecodeString(string(s))
	if err != nil || len(raw) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not a base64 Ed25519 signature", ErrManifestSignature)
	}
	for _, k := range vendorKeys {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, data, raw) {
			return k, nil
		}
	}
	return nil, ErrManifestSignature
}

// LoadManifest reads a manifest and its detached signature and verifies it
// against the vendor keys. A missing signature file is ErrManifestUnsigned.
func LoadManifest(manifestPath, sigPath string, vendorKeys []ed25519.PublicKey) (*Manifest, error) {
	data, err := readBounded(manifestPath, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("firmware: read manifest: %w", err)
	}
	sig, err := readBounded(sigPath, 4096)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; sign the manifest with the vendor key", ErrManifestUnsigned, sigPath)
	}
	if err != nil {
		return nil, fmt.Errorf("firmware: read manifest signature: %w", err)
	}
	m, err := VerifyManifest(data, sig, vendorKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath, err)
	}
	return m, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
