package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/gateway"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/consent"
)

func consentFile(id, patient string) []byte {
	return []byte(fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":"active","patient":{"reference":"Patient/%s"},
"provision":{"type":"permit","actor":[{"reference":{"identifier":{"value":"org-b"}}}],"purpose":[{"code":"TREAT"}]}}`, id, patient))
}

// The privacy officer lists, shows and checks consents; `verify --consent`
// ties a released record's receipt to its consent file.
func TestConsentsCLI(t *testing.T) {
	dir := t.TempDir()
	cdir := filepath.Join(dir, "consents")
	st, err := consent.Open(cdir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := consent.LoadHasher(cdir)
	if err != nil {
		t.Fatal(err)
	}
	c1 := consentFile("c-1", "pat-secret-1")
	c, err := st.Put(c1)
	if err != nil {
		t.Fatal(err)
	}
	// The daemon's own consent view, over a real control socket.
	gate := &consent.Gate{Mode: consent.ModeRequired, Store: st, Hasher: h, Orgs: map[string]string{"hospital-b": "org-b"}}
	sock := serve(t, consentBackend{newTestBackend(0), gateway.ConsentView{Gate: gate}})

	r := wardgate(t, sock, "consents", "list")
	mustContain(t, "list", r.stdout, "c-1", c.Version, "active")
	if r.code != 0 || strings.Contains(r.stdout, "pat-secret-1") {
		t.Fatalf("list: %+v", r)
	}
	r = wardgate(t, sock, "consents", "show", "c-1")
	if r.code != 0 || r.stdout != string(c1) {
		t.Fatalf("show: %+v", r)
	}
	r = wardgate(t, sock, "consents", "check", "--patient", "pat-secret-1", "--peer", "hospital-b", "--purpose", "TREAT")
	mustContain(t, "check permitted", r.stdout, "release: consent c-1")
	r = wardgate(t, sock, "consents", "check", "--patient", "pat-secret-1", "--peer", "hospital-b", "--purpose", "HMARKT")
	mustContain(t, "check purpose", r.stdout, "refuse: purpose_not_permitted")
	r = wardgate(t, sock, "consents", "check", "--patient", "pat-2", "--peer", "hospital-b")
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

// consentBackend is the CLI test backend with the daemon's consent view.
type consentBackend struct {
	*testBackend
	gateway.ConsentView
}
