package firmware

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// RuntimePolicy is a vendor's signed list of what a box may execute at
// run time: for each path, the SHA-256 digests of every approved version
// (several at once, so that an upgrade rolls out without refusals), and
// path prefixes whose measurements are not appraised (logs, scratch
// files). It is canonical JSON with a detached Ed25519 signature, signed
// and verified like a Manifest.
type RuntimePolicy struct {
	Version string         `json:"version"`
	Allowed []RuntimeEntry `json:"allowed"`
	Exclude []string       `json:"exclude,omitempty"`

	verified bool
}

// RuntimeEntry approves the listed digests (lower-case hex) at Path.
type RuntimeEntry struct {
	Path   string   `json:"path"`
	SHA256 []string `json:"sha256"`
}

// BootAggregate is the first entry of every kernel IMA list, a digest of
// the boot PCRs; boot attestation appraises those PCRs, so the runtime
// policy never has to name it.
const BootAggregate = "boot_aggregate"

// Verified reports whether the policy came through a signature check.
func (p *RuntimePolicy) Verified() bool { return p != nil && p.verified }

// Approves says whether digest at path is allowed, or the path excluded.
func (p *RuntimePolicy) Approves(path string, digest []byte) bool {
	if path == BootAggregate {
		return true
	}
	for _, x := range p.Exclude {
		if strings.HasPrefix(path, x) {
			return true
		}
	}
	d := hex.EncodeToString(digest)
	for _, e := range p.Allowed {
		if e.Path == path && slices.Contains(e.SHA256, d) {
			return true
		}
	}
	return false
}

func (p *RuntimePolicy) validate() error {
	if p.Version == "" {
		return fmt.Errorf("%w: runtime policy: field \"version\" is empty", ErrManifestInvalid)
	}
	if len(p.Allowed) > maxComponents {
		return fmt.Errorf("%w: runtime policy: %d paths, at most %d", ErrManifestInvalid, len(p.Allowed), maxComponents)
	}
	for i, e := range p.Allowed {
		if !strings.HasPrefix(e.Path, "/") {
			return fmt.Errorf("%w: runtime policy: allowed[%d].path %q is not absolute", ErrManifestInvalid, i, e.Path)
		}
		if len(e.SHA256) == 0 {
			return fmt.Errorf("%w: runtime policy: allowed[%d] (%s) lists no sha256 digest", ErrManifestInvalid, i, e.Path)
		}
		for _, d := range e.SHA256 {
			if b, err := hex.DecodeString(d); err != nil || len(b) != 32 || d != strings.ToLower(d) {
				return fmt.Errorf("%w: runtime policy: allowed[%d] (%s): %q is not a lower-case hex SHA-256", ErrManifestInvalid, i, e.Path, d)
			}
		}
	}
	for i, x := range p.Exclude {
		if !strings.HasPrefix(x, "/") {
			return fmt.Errorf("%w: runtime policy: exclude[%d] %q is not an absolute path prefix", ErrManifestInvalid, i, x)
		}
	}
	return nil
}

// Canonical is the policy's canonical JSON: paths sorted, each path's
// digests sorted, exclusions sorted.
func (p *RuntimePolicy) Canonical() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	c := RuntimePolicy{Version: p.Version, Exclude: slices.Sorted(slices.Values(p.Exclude))}
	for _, e := range p.Allowed {
		c.Allowed = append(c.Allowed, RuntimeEntry{Path: e.Path, SHA256: slices.Sorted(slices.Values(e.SHA256))})
	}
	slices.SortFunc(c.Allowed, func(a, b RuntimeEntry) int { return strings.Compare(a.Path, b.Path) })
	return json.Marshal(&c)
}

// ParseRuntimePolicy decodes a policy (unverified).
func ParseRuntimePolicy(data []byte) (*RuntimePolicy, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: runtime policy is %d bytes, limit %d", ErrManifestInvalid, len(data), MaxManifestSize)
	}
	var p RuntimePolicy
	if err := strictJSON(data, &p); err != nil {
		return nil, fmt.Errorf("%w: runtime policy: %w", ErrManifestInvalid, err)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// SignRuntimePolicy returns the canonical policy JSON and its detached
// signature.
func SignRuntimePolicy(p *RuntimePolicy, s Signer) (policyJSON, sig []byte, err error) {
	policyJSON, err = p.Canonical()
	if err != nil {
		return nil, nil, err
	}
	sig, err = DetachedSignature(s, policyJSON)
	return policyJSON, sig, err
}

// VerifyRuntimePolicy checks the detached signature over the exact bytes
// under the vendor keys, then parses the policy.
func VerifyRuntimePolicy(policyJSON, sig []byte, vendorKeys []ed25519.PublicKey) (*RuntimePolicy, error) {
	if _, err := checkDetached(policyJSON, sig, vendorKeys); err != nil {
		return nil, err
	}
	p, err := ParseRuntimePolicy(policyJSON)
	if err != nil {
		return nil, err
	}
	p.verified = true
	return p, nil
}

// LoadRuntimePolicy reads and verifies a policy and its signature file.
func LoadRuntimePolicy(path, sigPath string, vendorKeys []ed25519.PublicKey) (*RuntimePolicy, error) {
	data, err := readBounded(path, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("firmware: read runtime policy: %w", err)
	}
	sig, err := readBounded(sigPath, 4096)
	if err != nil {
		return nil, fmt.Errorf("firmware: read runtime policy signature: %w", err)
	}
	p, err := VerifyRuntimePolicy(data, sig, vendorKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// strictJSON decodes one JSON object with no unknown fields and nothing
// after it.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
