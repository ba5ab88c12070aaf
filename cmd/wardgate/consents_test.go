package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/consent"
)

const consentsYAML = `
box: hospital-a
state_dir: %s
tpm: {source: simulator, dev_ca: dev-ca}
firmware:
  image:
    - {name: kernel, version: "6.12", sha256: "0000000000000000000000000000000000000000000000000000000000000001", pcr: 4}
tunnel: {mode: userspace, listen_port: 51820, address: 10.9.0.1/24, lan_routes: [192.168.10.0/24]}
attestation:
  listen: 127.0.0.1:7443
  manufacturer_roots: roots
  manifests: [{path: m.json, signature: m.sig}]
  vendor_keys: [vendor.pub]
  policy: policy.yaml
peers:
  - {name: hospital-b, endpoint: 127.0.0.1:7444, wireguard_endpoint: 127.0.0.1:51821, ek: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", allowed_ips: [10.9.0.2/32], organization: org-b}
chain: {mode: none}
records: {lan_listen: 127.0.0.1:7480, deliver_url: http://127.0.0.1:8080/records, consent: required}
`

func consentFile(id, patient string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":"active","patient":{"reference":"Patient/%s"},
"provision":{"type":"permit","actor":[{"reference":{"identifier":{"value":"org-b"}}}],"purpose":[{"code":"TREAT"}]}}`, id, patient))
}

// The privacy officer lists, shows and checks consents; `verify --consent`
// ties a released record's receipt to its consent file.
func TestConsentsCLI(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := writeFile(t, dir, "wardgate.yaml", []byte(fmt.Sprintf(consentsYAML, state)))
	st, err := consent.Open(filepath.Join(state, "consents"))
	if err != nil {
		t.Fatal(err)
	}
	c1 := consentFile("c-1", "pat-secret-1")
	c, err := st.Put(c1)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "no-daemon.sock")

	r := wardgate(t, sock, "consents", "list", "--config", cfg)
	mustContain(t, "list", r.stdout, "c-1", c.Version, "active")
	if r.code != 0 || strings.Contains(r.stdout, "pat-secret-1") {
		t.Fatalf("list: %+v", r)
	}
	r = wardgate(t, sock, "consents", "show", "c-1", "--config", cfg)
	if r.code != 0 || r.stdout != string(c1) {
		t.Fatalf("show: %+v", r)
	}
	r = wardgate(t, sock, "consents", "check", "--config", cfg, "--patient", "pat-secret-1", "--peer", "hospital-b", "--purpose", "TREAT")
	mustContain(t, "check permitted", r.stdout, "release: consent c-1")
	r = wardgate(t, sock, "consents", "check", "--config", cfg, "--patient", "pat-secret-1", "--peer", "hospital-b", "--purpose", "HMARKT")
	mustContain(t, "check purpose", r.stdout, "refuse: purpose_not_permitted")
	r = wardgate(t, sock, "consents", "check", "--config", cfg, "--patient", "pat-2", "--peer", "hospital-b")
	mustContain(t, "check no consent", r.stdout, "refuse: no_consent")

	// A receipt of a record released under c-1.
	l, _ := openLedger(t, nil, filepath.Join(dir, "ledger"))
	a, err := l.Append(context.Background(), proof.Entry{Kind: proof.KindSent, Digest: proof.Digest([]byte("rec")), Sender: "hospital-a", Receiver: "hospital-b",
		ContentType: "application/fhir+json", Consent: proof.ConsentFields{ID: c.ID, Version: c.Version, Digest: c.Digest, Patient: [32]byte{1}}})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Receipt(context.Background(), a.Seq)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := rc.Marshal()
	rcPath := writeFile(t, dir, "receipt.json", raw)
	good := writeFile(t, dir, "c-1.json", c1)
	r = wardgate(t, sock, "verify", "--receipt", rcPath, "--consent", good)
	if r.code != 0 {
		t.Fatalf("verify --consent: %+v", r)
	}
	mustContain(t, "verify --consent", r.stdout, "consent:", "c-1 version "+c.Version, "matches --consent")
	other := writeFile(t, dir, "c-2.json", consentFile("c-1", "pat-other"))
	r = wardgate(t, sock, "verify", "--receipt", rcPath, "--consent", other)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "consent_mismatch") {
		t.Fatalf("verify with another consent file: %+v", r)
	}
	os.Remove(other)
}
