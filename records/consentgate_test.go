package records

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/consent"
	"github.com/wardgate/wardgate/records/receipt"
)

// consentPair is a sending box with a consent gate (mode) and a receiver;
// city-general is organisation org-city.
func consentPair(t *testing.T, mode consent.Mode, mod func(*Config)) (*recPair, *consent.Gate) {
	t.Helper()
	dir := t.TempDir()
	st, err := consent.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := consent.LoadHasher(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := &consent.Gate{Mode: mode, Store: st, Hasher: h, Orgs: map[string]string{"city-general": "org-city"}}
	f := fixture(t)
	n := &recNet{addrs: map[string]string{}}
	ep := &lanEndpoint{}
	epURL := "http://" + serveHTTP(t, ep) + "/fhir"
	p := &recPair{f: f, ep: ep, n: n,
		a: newRecBox(t, n, "st-mary", Delivery{}, func(c *Config) {
			c.Consent = g
			if mod != nil {
				mod(c)
			}
		}),
		b: newRecBox(t, n, "city-general", Delivery{HTTPURL: epURL}, nil)}
	admit(t, f, p.a, p.b)
	return p, g
}

// lanDo sends a request to box's LAN API with optional headers.
func lanDo(t *testing.T, b *recBox, method, path string, body []byte, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, b.lanURL+path, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// testConsent permits org to receive patient's records for TREAT from
// 2026 on (until end, if set), except data labelled PSY.
func testConsent(id, patient, org, end string) []byte {
	period := `{"start":"2020-01-01"}`
	if end != "" {
		period = `{"start":"2020-01-01","end":"` + end + `"}`
	}
	return []byte(fmt.Sprintf(`{"resourceType":"Consent","id":%q,"status":"active","patient":{"reference":"Patient/%s"},
"provision":{"type":"permit","period":%s,"actor":[{"reference":{"identifier":{"value":%q}}}],"purpose":[{"code":"TREAT"}],
"provision":[{"type":"deny","securityLabel":[{"code":"PSY"}]}]}}`, id, patient, period, org))
}

func postConsent(t *testing.T, b *recBox, c []byte) {
	t.Helper()
	if st, out := lanDo(t, b, http.MethodPost, "/v1/consents", c, "Content-Type", "application/fhir+json"); st != http.StatusCreated {
		t.Fatalf("POST consent: %d %s", st, out)
	}
}

// observation is a FHIR record about patient, with a unique marker and an
// optional security label.
func observation(t *testing.T, patient, label string) []byte {
	meta := ""
	if label != "" {
		meta = `"meta":{"security":[{"code":"` + label + `"}]},`
	}
	return []byte(`{"resourceType":"Observation",` + meta + `"id":"` + strings.ToLower(randMarker(t)) + `","subject":{"reference":"Patient/` + patient + `"}}`)
}

func sendRecord(t *testing.T, b *recBox, body []byte, purpose string) (int, []byte) {
	t.Helper()
	hdr := []string{"To", "city-general", "Content-Type", "application/fhir+json"}
	if purpose != "" {
		hdr = append(hdr, PurposeHeader, purpose)
	}
	return lanDo(t, b, http.MethodPost, "/v1/records", body, hdr...)
}

// wantRefused checks a 403 refusal with reason and that the box journaled
// a refused entry for the record with the reason and the patient's hash.
func wantRefused(t *testing.T, p *recPair, g *consent.Gate, st int, out, body []byte, reason consent.Reason, patient string) {
	t.Helper()
	wantRefusal(t, st, out, http.StatusForbidden, string(reason), string(reason))
	e := journaled(t, p.a, body, proof.KindRefused)
	if e.Consent.Reason != string(reason) || (patient != "" && e.Consent.Patient != g.Hasher.Hash(patient)) {
		t.Fatalf("refused entry %+v, want reason %s and the patient's hash", e.Consent, reason)
	}
}

func journaled(t *testing.T, b *recBox, body []byte, kind proof.Kind) *proof.Entry {
	t.Helper()
	for _, seq := range b.l.Lookup(sha256.Sum256(body)) {
		e, err := b.l.Entry(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == kind {
			return e
		}
	}
	t.Fatalf("no %s entry journaled for the record", kind)
	return nil
}

// Permit, deny, withdrawn, expired, wrong purpose, wrong recipient and an
// excluded data class, over the LAN HTTP API.
func TestConsentOverHTTP(t *testing.T) {
	p, g := consentPair(t, consent.ModeRequired, nil)
	postConsent(t, p.a, testConsent("c-ok", "pat-1", "org-city", ""))
	postConsent(t, p.a, testConsent("c-exp", "pat-2", "org-city", "2021-01-01"))
	postConsent(t, p.a, testConsent("c-other", "pat-3", "org-elsewhere", ""))

	body := observation(t, "pat-1", "")
	st, out := sendRecord(t, p.a, body, "")
	if st != http.StatusOK {
		t.Fatalf("permitted record: %d %s", st, out)
	}
	if e := journaled(t, p.a, body, proof.KindSent); e.Consent.ID != "c-ok" || e.Consent.Version == "" || e.Consent.Digest != sha256.Sum256(testConsent("c-ok", "pat-1", "org-city", "")) {
		t.Fatalf("sent entry consent %+v, want c-ok with version and digest", e.Consent)
	}
	for _, tc := range []struct {
		name, patient, label, purpose string
		want                          consent.Reason
	}{
		{"no consent", "pat-9", "", "", consent.NoConsent},
		{"expired", "pat-2", "", "", consent.NoConsent},
		{"wrong purpose", "pat-1", "", "HMARKT", consent.PurposeNotPermitted},
		{"wrong recipient", "pat-3", "", "", consent.RecipientNotPermitted},
		{"excluded class", "pat-1", "PSY", "", consent.DataClassExcluded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := observation(t, tc.patient, tc.label)
			st, out := sendRecord(t, p.a, body, tc.purpose)
			wantRefused(t, p, g, st, out, body, tc.want, tc.patient)
		})
	}
	st, out = sendRecord(t, p.a, []byte(`{"resourceType":"Observation","status":"final"}`), "")
	wantRefusal(t, st, out, http.StatusForbidden, string(consent.PatientUnknown), "subject")
	if n := p.ep.count(); n != 1 {
		t.Fatalf("receiver's LAN endpoint got %d records, want only the permitted one", n)
	}
	noBodyOnDisk(t, "pat-9", p.a.dir)
}

// A withdrawal between two records: the second is refused.
func TestConsentWithdrawalBetweenRecords(t *testing.T) {
	p, g := consentPair(t, consent.ModeRequired, nil)
	postConsent(t, p.a, testConsent("c-1", "pat-1", "org-city", ""))
	if st, out := sendRecord(t, p.a, observation(t, "pat-1", ""), ""); st != http.StatusOK {
		t.Fatalf("first record: %d %s", st, out)
	}
	if st, out := lanDo(t, p.a, http.MethodGet, "/v1/consents/c-1", nil); st != http.StatusOK || !bytes.Equal(out, testConsent("c-1", "pat-1", "org-city", "")) {
		t.Fatalf("GET consent: %d %s, want the bytes as posted", st, out)
	}
	if st, _ := lanDo(t, p.a, http.MethodGet, "/v1/consents/c-9", nil); st != http.StatusNotFound {
		t.Fatalf("GET unknown consent: %d, want 404", st)
	}
	if st, out := lanDo(t, p.a, http.MethodDelete, "/v1/consents/c-1", nil); st != http.StatusOK {
		t.Fatalf("DELETE consent: %d %s", st, out)
	}
	body := observation(t, "pat-1", "")
	st, out := sendRecord(t, p.a, body, "")
	wantRefused(t, p, g, st, out, body, consent.ConsentWithdrawn, "pat-1")
}

// A Bundle with entries for two patients, one without consent: refused
// whole, naming the hash of the patient without consent.
func TestConsentBundleTwoPatients(t *testing.T) {
	p, g := consentPair(t, consent.ModeRequired, nil)
	postConsent(t, p.a, testConsent("c-1", "pat-1", "org-city", ""))
	body := []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + string(observation(t, "pat-1", "")) +
		`},{"resource":` + string(observation(t, "pat-2", "")) + `}]}`)
	st, out := sendRecord(t, p.a, body, "")
	wantRefused(t, p, g, st, out, body, consent.NoConsent, "pat-2")
	if !bytes.Contains(out, []byte(g.Hasher.Hash("pat-2").String())) || bytes.Contains(out, []byte("pat-2")) {
		t.Fatalf("refusal %s should name pat-2 by hash only", out)
	}
}

// Malformed Consents are refused with the FHIR path of the error.
func TestConsentMalformedRefused(t *testing.T) {
	p, _ := consentPair(t, consent.ModeRequired, nil)
	bad := bytes.Replace(testConsent("c-1", "pat-1", "org-city", ""), []byte(`"type":"deny"`), []byte(`"type":"never"`), 1)
	st, out := lanDo(t, p.a, http.MethodPost, "/v1/consents", bad)
	wantRefusal(t, st, out, http.StatusBadRequest, "malformed_consent", "Consent.provision.provision[0].type")
}

// Audit mode forwards what it would refuse.
func TestConsentAuditForwards(t *testing.T) {
	p, _ := consentPair(t, consent.ModeAudit, nil)
	if st, out := sendRecord(t, p.a, observation(t, "pat-9", ""), ""); st != http.StatusOK {
		t.Fatalf("audit mode refused: %d %s", st, out)
	}
}

// Bulk NDJSON: each line decided on its own.
func TestConsentBulk(t *testing.T) {
	p, _ := consentPair(t, consent.ModeRequired, nil)
	postConsent(t, p.a, testConsent("c-1", "pat-1", "org-city", ""))
	lines := [][]byte{observation(t, "pat-1", ""), observation(t, "pat-9", ""), observation(t, "pat-1", "PSY")}
	st, out := lanDo(t, p.a, http.MethodPost, bulkPath, bytes.Join(lines, []byte("\n")), "To", "city-general", "Content-Type", BulkContentType)
	if st != http.StatusOK {
		t.Fatalf("bulk: %d %s", st, out)
	}
	want := []string{"", string(consent.NoConsent), string(consent.DataClassExcluded)}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for i := 0; sc.Scan(); i++ {
		var l struct {
			Code    string          `json:"code"`
			Receipt json.RawMessage `json:"receipt"`
		}
		json.Unmarshal(sc.Bytes(), &l)
		if l.Code != want[i] || (want[i] == "") != (l.Receipt != nil) {
			t.Fatalf("line %d: %s, want code %q", i+1, sc.Bytes(), want[i])
		}
	}
}

// HL7 v2 over MLLP: no consent for PID-3 is answered AR with the reason;
// with consent, AA.
func TestConsentOverMLLP(t *testing.T) {
	p, _ := consentPair(t, consent.ModeRequired, func(c *Config) { c.MLLPPeer = "city-general" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.a.r.ServeMLLP(ctx, ln) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	if a := mllpExchange(t, c, rd, frame(withControlID("CONS0001"))); a.Code != "AR" || !strings.Contains(a.Text, string(consent.NoConsent)) {
		t.Fatalf("no consent: ACK %+v, want AR no_consent", a)
	}
	postConsent(t, p.a, testConsent("c-1", "PATID1234", "org-city", ""))
	if a := mllpExchange(t, c, rd, frame(withControlID("CONS0002"))); a.Code != "AA" {
		t.Fatalf("with consent: ACK %+v, want AA", a)
	}
	// An access restriction (ARV-3 PSY) is a data class the consent excludes.
	if a := mllpExchange(t, c, rd, frame(withControlID("CONS0003")+"ARV|1|A|PSY^Psychiatry^HL70717\r")); a.Code != "AR" || !strings.Contains(a.Text, string(consent.DataClassExcluded)) {
		t.Fatalf("ARV PSY: ACK %+v, want AR data_class_excluded", a)
	}
}

// A released record's receipt shows the consent's id, version and digest,
// as the signed entry says; an edited consent field is refused.
func TestConsentInReceipt(t *testing.T) {
	p, _ := consentPair(t, consent.ModeRequired, nil)
	c := testConsent("c-1", "pat-1", "org-city", "")
	postConsent(t, p.a, c)
	st, out := sendRecord(t, p.a, observation(t, "pat-1", ""), "")
	if st != http.StatusOK {
		t.Fatalf("%d %s", st, out)
	}
	rc, err := receipt.ParseReceipt(out)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Consent == nil || rc.Consent.ID != "c-1" || rc.Consent.Digest != proof.Hash(sha256.Sum256(c)) || rc.Consent.Version == "" {
		t.Fatalf("receipt consent %+v", rc.Consent)
	}
	viaMarshal, _ := json.Marshal(rc)
	if !bytes.Equal(append(viaMarshal, '\n'), out) {
		t.Fatalf("AppendJSON and json.Marshal differ:\n%s\n%s", out, viaMarshal)
	}
	edited := bytes.Replace(out, []byte(`"id":"c-1"`), []byte(`"id":"c-2"`), 1)
	if _, err := receipt.ParseReceipt(edited); !errors.Is(err, receipt.ErrHeaderMismatch) {
		t.Fatalf("edited consent id: %v, want ErrHeaderMismatch", err)
	}
}

// HL7 v2 over MLLP: the purpose of use comes from MSH-8. The gate's
// default purpose (HRESCH) is not one the consent permits, so only a
// message whose MSH-8 says TREAT is released; another purpose, or an
// MSH-8 that is not one code, is answered AR purpose_not_permitted.
func TestConsentPurposeFromMSH(t *testing.T) {
	p, g := consentPair(t, consent.ModeRequired, func(c *Config) { c.MLLPPeer = "city-general" })
	g.DefaultPurpose = "HRESCH"
	postConsent(t, p.a, testConsent("c-1", "PATID1234", "org-city", ""))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.a.r.ServeMLLP(ctx, ln) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	withMSH8 := func(id, msh8 string) string {
		return strings.Replace(withControlID(id), "20260101120000||ADT", "20260101120000|"+msh8+"|ADT", 1)
	}
	if a := mllpExchange(t, c, rd, frame(withMSH8("PURP0001", "TREAT^treatment^v3-ActReason"))); a.Code != "AA" {
		t.Fatalf("MSH-8 TREAT: ACK %+v, want AA", a)
	}
	for _, tc := range []struct{ id, msh8, want string }{
		{"PURP0002", "", "purpose_not_permitted"}, // the default, HRESCH
		{"PURP0003", "HMARKT", "purpose_not_permitted"},
		{"PURP0004", "TREAT~HMARKT", "MSH-8"},
		{"PURP0005", "TRE AT", "MSH-8"},
	} {
		body := withMSH8(tc.id, tc.msh8)
		a := mllpExchange(t, c, rd, frame(body))
		if a.Code != "AR" || !strings.Contains(a.Text, string(consent.PurposeNotPermitted)) || !strings.Contains(a.Text, tc.want) {
			t.Errorf("MSH-8 %q: ACK %+v, want AR purpose_not_permitted naming %s", tc.msh8, a, tc.want)
			continue
		}
		if e := journaled(t, p.a, []byte(body), proof.KindRefused); e.Consent.Reason != string(consent.PurposeNotPermitted) || e.Consent.Patient != g.Hasher.Hash("PATID1234") {
			t.Errorf("MSH-8 %q: refused entry %+v", tc.msh8, e.Consent)
		}
	}
	// Over HTTP, a Purpose header that disagrees with MSH-8 is refused.
	body := []byte(withMSH8("PURP0006", "HMARKT"))
	st, out := lanDo(t, p.a, http.MethodPost, "/v1/records", body, "To", "city-general", "Content-Type", "application/hl7-v2", PurposeHeader, "TREAT")
	wantRefused(t, p, g, st, out, body, consent.PurposeNotPermitted, "PATID1234")
	if !bytes.Contains(out, []byte("MSH-8")) {
		t.Fatalf("conflict refusal %s should name MSH-8", out)
	}
}
