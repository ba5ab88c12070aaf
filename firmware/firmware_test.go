package firmware

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gattest "github.com/google/go-attestation/attest"
)

func testManifest() *Manifest {
	d := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	return &Manifest{Vendor: "acme-edge", Version: "2026.11", Components: []Component{
		{Name: "wardgated", Version: "0.1.0", SHA256: d("w"), PCR: 9},
		{Name: "kernel", Version: "6.13.0", SHA256: d("k13"), PCR: 8},
		{Name: "kernel", Version: "6.12.8", SHA256: d("k12"), PCR: 8},
		{Name: "firmware", Version: "1.4.2", SHA256: d("f"), PCR: 0},
	}}
}

func TestManifestSignLoad(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	data, sig, err := SignManifest(testManifest(), key)
	if err != nil {
		t.Fatal(err)
	}
	// Canonical: same bytes whatever the input order.
	m2 := testManifest()
	m2.Components[0], m2.Components[3] = m2.Components[3], m2.Components[0]
	data2, _, _ := SignManifest(m2, key)
	if !bytes.Equal(data, data2) {
		t.Fatal("canonical JSON depends on component order")
	}
	dir := t.TempDir()
	mp, sp := filepath.Join(dir, "manifest.json"), filepath.Join(dir, "manifest.json.sig")
	os.WriteFile(mp, data, 0o644)
	os.WriteFile(sp, sig, 0o644)

	m, err := LoadManifest(mp, sp, []ed25519.PublicKey{otherPub, pub})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Verified() || m.Version != "2026.11" || len(m.Components) != 4 {
		t.Fatalf("loaded %+v", m)
	}
	if c, ok := m.Lookup(testDigest("k13")); !ok || c.Version != "6.13.0" {
		t.Fatalf("Lookup = %+v, %v", c, ok)
	}
	if got := m.Names(); strings.Join(got, ",") != "firmware,kernel,wardgated" {
		t.Fatalf("Names = %v", got)
	}

	// Signed by a key that is not a vendor key.
	if _, err := LoadManifest(mp, sp, []ed25519.PublicKey{otherPub}); !errors.Is(err, ErrManifestSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	// Edited after signing (another approved digest smuggled in).
	edited := bytes.Replace(data, []byte(`"6.13.0"`), []byte(`"6.13.1"`), 1)
	os.WriteFile(mp, edited, 0o644)
	if _, err := LoadManifest(mp, sp, []ed25519.PublicKey{pub}); !errors.Is(err, ErrManifestSignature) {
		t.Fatalf("edited manifest: %v", err)
	}
	os.WriteFile(mp, data, 0o644)
	// Missing and empty signature.
	if _, err := LoadManifest(mp, filepath.Join(dir, "none.sig"), []ed25519.PublicKey{pub}); !errors.Is(err, ErrManifestUnsigned) {
		t.Fatalf("missing sig: %v", err)
	}
	os.WriteFile(sp, nil, 0o644)
	if _, err := LoadManifest(mp, sp, []ed25519.PublicKey{pub}); !errors.Is(err, ErrManifestUnsigned) {
		t.Fatalf("empty sig: %v", err)
	}
	os.WriteFile(sp, []byte("not base64!"), 0o644)
	if _, err := LoadManifest(mp, sp, []ed25519.PublicKey{pub}); !errors.Is(err, ErrManifestSignature) {
		t.Fatalf("garbage sig: %v", err)
	}
	// ParseManifest alone never marks a manifest verified.
	if m, err := ParseManifest(data); err != nil || m.Verified() {
		t.Fatalf("ParseManifest: verified=%v err=%v", m.Verified(), err)
	}
	_ = otherKey
}

func testDigest(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestParseManifestNamesTheField(t *testing.T) {
	for in, want := range map[string]string{
		`{"vendor":"","version":"1","components":[]}`:                                                                                `"vendor"`,
		`{"vendor":"a","version":"1","components":[]}`:                                                                               `"components"`,
		`{"vendor":"a","version":"1","components":[{"name":"k","version":"1","sha256":"zz","pcr":8}]}`:                               `"sha256"`,
		`{"vendor":"a","version":"1","components":[{"name":"k","version":"1","sha256":"` + strings.Repeat("a", 64) + `","pcr":24}]}`: `"pcr"`,
		`{"vendor":"a","version":"1","components":[],"extra":1}`:                                                                     `unknown field`,
		`{"vendor":"a"} {}`: `trailing`,
		`[`:                 `invalid manifest`,
	} {
		_, err := ParseManifest([]byte(in))
		if err == nil || !errors.Is(err, ErrManifestInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseManifest(%s) = %v, want error mentioning %s", in, err, want)
		}
	}
	if _, err := ParseManifest(make([]byte, MaxManifestSize+1)); !errors.Is(err, ErrManifestInvalid) {
		t.Fatalf("oversized: %v", err)
	}
	dup := testManifest()
	dup.Components = append(dup.Components, dup.Components[0])
	if _, err := dup.Canonical(); err == nil {
		t.Fatal("duplicate component accepted")
	}
}

// pcrBank simulates the SHA-256 bank of a TPM's PCRs.
type pcrBank map[int][]byte

func (p pcrBank) ExtendPCR(_ context.Context, i int, d []byte) error {
	old := p[i]
	if old == nil {
		old = make([]byte, 32)
	}
	h := sha256.Sum256(append(bytes.Clone(old), d...))
	p[i] = h[:]
	return nil
}

func (p pcrBank) pcrs() []gattest.PCR {
	var out []gattest.PCR
	for i := 0; i < 10; i++ {
		d := p[i]
		if d == nil {
			d = make([]byte, 32)
		}
		out = append(out, gattest.PCR{Index: i, Digest: d, DigestAlg: crypto.SHA256})
	}
	return out
}

func bootComponents() []BootComponent {
	return []BootComponent{
		Measure("firmware", "1.4.2", 0, []byte("fw")),
		Measure("bootloader", "2.12", 4, []byte("bl")),
		Measure("kernel", "6.12.8", 8, []byte("k")),
		Measure("initrd", "6.12.8", 8, []byte("i")),
		Measure(DaemonComponent, "0.1.0", 9, []byte("w")),
	}
}

func TestBootLogReplaysWithGoAttestation(t *testing.T) {
	bank := pcrBank{}
	log, err := Boot(context.Background(), bank, bootComponents())
	if err != nil {
		t.Fatal(err)
	}
	el, err := gattest.ParseEventLog(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(el.Algs) != 1 || el.Algs[0] != gattest.HashSHA256 {
		t.Fatalf("log algorithms = %v, want SHA-256 (crypto-agile)", el.Algs)
	}
	events, err := el.Verify(bank.pcrs())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		n, v, ok := ParseEventData(e.Data)
		if !ok {
			t.Fatalf("event data %q", e.Data)
		}
		got = append(got, n+"@"+v)
	}
	if strings.Join(got, " ") != "firmware@1.4.2 bootloader@2.12 kernel@6.12.8 initrd@6.12.8 wardgated@0.1.0" {
		t.Fatalf("events = %v", got)
	}
	// A different PCR value no longer replays.
	bank.ExtendPCR(context.Background(), 8, testDigest("late"))
	if _, err := el.Verify(bank.pcrs()); err == nil {
		t.Fatal("log replayed against changed PCRs")
	}
}

func TestBootRequiresDaemonLast(t *testing.T) {
	comps := bootComponents()
	comps[0], comps[len(comps)-1] = comps[len(comps)-1], comps[0]
	if _, err := Boot(context.Background(), pcrBank{}, comps); err == nil || !strings.Contains(err.Error(), DaemonComponent) {
		t.Fatalf("Boot with daemon first = %v", err)
	}
	if _, err := Boot(context.Background(), pcrBank{}, nil); err == nil {
		t.Fatal("Boot with no components")
	}
	bad := bootComponents()
	bad[0].Digest = bad[0].Digest[:20]
	if _, err := Boot(context.Background(), pcrBank{}, bad); err == nil {
		t.Fatal("Boot accepted a SHA-1 sized digest")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Boot(ctx, pcrBank{}, bootComponents()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Boot with cancelled ctx = %v", err)
	}
}

func TestMeasureFileAndReadEventLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "wardgated")
	os.WriteFile(p, []byte("binary"), 0o755)
	c, err := MeasureFile(DaemonComponent, "0.1.0", 9, p)
	if err != nil || !bytes.Equal(c.Digest, testDigest("binary")) {
		t.Fatalf("MeasureFile = %x, %v", c.Digest, err)
	}
	log, _ := Boot(context.Background(), pcrBank{}, bootComponents())
	lp := filepath.Join(t.TempDir(), "binary_bios_measurements")
	os.WriteFile(lp, log, 0o444)
	got, err := ReadEventLog(lp)
	if err != nil || !bytes.Equal(got, log) {
		t.Fatalf("ReadEventLog: %v", err)
	}
	if _, err := ReadEventLog(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("read a missing log")
	}
}

func TestParseEventData(t *testing.T) {
	for in, ok := range map[string]bool{
		"wardgate-component:kernel@6.12.8": true,
		"wardgate-component:a@b@c":         true,
		"wardgate-component:@1":            false,
		"wardgate-component:k@":            false,
		"kernel@1":                         false,
	} {
		if _, _, got := ParseEventData([]byte(in)); got != ok {
			t.Errorf("ParseEventData(%q) ok = %v", in, got)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	data, _ := testManifest().Canonical()
	f.Add(data)
	f.Add([]byte(`{"vendor":"a","version":"1","components":[{"name":"k","version":"1","sha256":"00","pcr":-1}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		if m.Verified() {
			t.Fatal("parsed manifest claims to be verified")
		}
		// Anything that parses has a canonical form that parses back the same.
		c, err := m.Canonical()
		if err != nil {
			t.Fatalf("Canonical of a parsed manifest: %v", err)
		}
		m2, err := ParseManifest(c)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v", err)
		}
		c2, _ := m2.Canonical()
		if !bytes.Equal(c, c2) {
			t.Fatal("canonical form is not stable")
		}
	})
}
