package records

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/hl7"
	"github.com/wardgate/wardgate/records/receipt"
)

const adtA01 = "MSH|^~\\&|ADT1|STMARY|HIS|CITYGEN|20260101120000||ADT^A01^ADT_A01|MSG00001|P|2.5\r" +
	"EVN|A01|20260101120000\r" +
	"PID|1||PATID1234^^^STMARY^MR||DOE^JANE||19800101|F\r" +
	"PV1|1|I|W^389^1^STMARY\r"

func frame(s string) []byte { return append(append([]byte{0x0b}, s...), 0x1c, 0x0d) }

func TestReadFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []string
		err  error
	}{
		{"two frames", append(frame("A"), frame("BC")...), []string{"A", "BC"}, io.EOF},
		{"newline between frames", append(append(frame("A"), '\n'), frame("B")...), []string{"A", "B"}, io.EOF},
		{"no start byte", []byte("MSH|^~\\&|\x1c\r"), nil, hl7.ErrBadFrame},
		{"no CR after FS", []byte{0x0b, 'A', 0x1c, 'x'}, nil, hl7.ErrBadFrame},
		{"truncated", []byte{0x0b, 'A', 'B'}, nil, hl7.ErrBadFrame},
		{"empty frame", []byte{0x0b, 0x1c, 0x0d}, nil, hl7.ErrBadFrame},
		{"too large", frame(strings.Repeat("x", 100)), nil, hl7.ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := bufio.NewReaderSize(bytes.NewReader(tc.in), 16)
			var got []string
			var err error
			for {
				var m []byte
				if m, err = hl7.ReadFrame(rd, 64); err != nil {
					break
				}
				got = append(got, string(m))
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("frames %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseMSHAndAck(t *testing.T) {
	m, err := hl7.ParseMSH([]byte(adtA01))
	if err != nil {
		t.Fatal(err)
	}
	if m.ControlID != "MSG00001" || m.MessageType != "ADT^A01^ADT_A01" || m.ReceivingFacility != "CITYGEN" || m.Version != "2.5" {
		t.Fatalf("parsed %+v", m)
	}
	now := time.Date(2026, 1, 1, 12, 0, 1, 0, time.UTC)
	ack := hl7.BuildAck(m, "AA", "", now)
	if !strings.HasPrefix(string(ack), "MSH|^~\\&|HIS|CITYGEN|ADT1|STMARY|20260101120001||ACK^A01^ACK|") ||
		!strings.Contains(string(ack), "\rMSA|AA|MSG00001\r") {
		t.Fatalf("ack %q", ack)
	}
	nak := hl7.BuildAck(m, "AE", "peer \"city-general\" is not admitted|x^y", now)
	a, err := hl7.ParseAck(nak)
	if err != nil {
		t.Fatal(err)
	}
	if a.Code != "AE" || a.ControlID != "MSG00001" || !strings.Contains(a.Text, `not admitted\F\x\S\y`) {
		t.Fatalf("nak %+v", a)
	}
	for _, bad := range []struct{ msg, field string }{
		{"PID|1||X\r", "MSH segment"},
		{"MSH|^~\\&|A|B|C|D|2026||ADT^A01|\r", "MSH-10"},
		{"MSH|^~\\&|A|B|C|D|2026|||1|P|2.5\r", "MSH-9"},
		{"MSHa^~\\&|A\r", "MSH-1"},
		{"MSH|^^|A|B|C|D|2026||ADT|1\r", "MSH-2"},
		{"MSH|^~\\&|A|B|C|D|2026||ADT|1\rP\r", "segment"},
	} {
		if _, err := hl7.ParseMSH([]byte(bad.msg)); !errors.Is(err, hl7.ErrBadHL7) || !strings.Contains(err.Error(), bad.field) {
			t.Errorf("ParseMSH(%q) = %v, want ErrBadHL7 naming %s", bad.msg, err, bad.field)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(frame(adtA01))
	f.Add(append(frame("A"), frame("B")...))
	f.Add([]byte{0x0b, 0x1c})
	f.Add([]byte("\r\n\x0bMSH\x1c\x0d\x0b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rd := bufio.NewReaderSize(bytes.NewReader(b), 16)
		total := 0
		for {
			m, err := hl7.ReadFrame(rd, 256)
			if err != nil {
				return
			}
			if len(m) == 0 || len(m) > 256 || bytes.IndexByte(m, 0x1c) >= 0 {
				t.Fatalf("frame %q breaks the bounds", m)
			}
			total += len(m) + 3
			if total > len(b) {
				t.Fatalf("read %d bytes of frames from %d bytes", total, len(b))
			}
		}
	})
}

func FuzzParseMSH(f *testing.F) {
	f.Add([]byte(adtA01))
	f.Add([]byte("MSH|^~\\&|||||||ACK|1\r"))
	f.Add([]byte("MSH#$%*@|A\nPID#1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := hl7.ParseMSH(b)
		if err != nil {
			return
		}
		// Whatever parses must get an ACK that parses back with the same control ID.
		for _, code := range []string{"AA", "AE"} {
			a, err := hl7.ParseAck(hl7.BuildAck(m, code, string(b), time.Unix(0, 0)))
			if err != nil {
				t.Fatalf("ACK for %q does not parse: %v", b, err)
			}
			if a.Code != code || a.ControlID != m.ControlID {
				t.Fatalf("ACK %+v for control ID %q", a, m.ControlID)
			}
		}
	})
}

func fuzzEntry(t testing.TB, body []byte) []byte {
	e := proof.Entry{Kind: proof.KindSent, Digest: sha256.Sum256(body), Sender: "st-mary", Receiver: "city-general",
		ContentType: "application/fhir+json", Log: "st-mary", Time: time.Unix(1, 0).UTC()}
	e.Signature = ed25519.Sign(ed25519.NewKeyFromSeed(make([]byte, 32)), e.SignedBytes())
	raw, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A peer batch either parses into records whose entries and bodies lie
// inside it and re-encode to the same bytes, or is refused as a bad
// request; it never panics or over-allocates.
func FuzzParseBatch(f *testing.F) {
	body := []byte(`{"resourceType":"Bundle"}`)
	f.Add(encodeBatch([][]byte{fuzzEntry(f, body)}, [][]byte{body}))
	f.Add(encodeBatch([][]byte{fuzzEntry(f, body), []byte("x")}, [][]byte{body, nil}))
	f.Add([]byte("WGB1\x00\x00\x00\x01\x00\x05"))
	f.Add([]byte("WGB1\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := parseBatch(b, 64<<10)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v is neither ErrBadRequest nor ErrTooLarge", err)
			}
			return
		}
		raws, bodies := make([][]byte, len(items)), make([][]byte, len(items))
		for i, it := range items {
			raws[i], bodies[i] = it.raw, it.body
			if len(it.body) > 64<<10 {
				t.Fatalf("record %d over the limit", i)
			}
			if it.err != nil {
				if it.body != nil {
					t.Fatalf("refused record %d keeps its body", i)
				}
				if !errors.Is(it.err, ErrTooLarge) {
					t.Fatalf("record %d refused with %v", i, it.err)
				}
				return // its body is not kept: the batch does not re-encode
			}
			// Whatever parses as a batch, its entries go through the same
			// checks as a single entry: only well-formed sent entries pass.
			if e, err := parseEntry("city-general", it.raw); err == nil && (e.Kind != proof.KindSent || e.Receiver != "city-general") {
				t.Fatalf("accepted inconsistent entry %+v", e)
			}
		}
		if !bytes.Equal(encodeBatch(raws, bodies), b) {
			t.Fatal("batch does not re-encode to its bytes")
		}
	})
}

// A batch reply parses into exactly the number of results asked for, or is
// refused; a parsed countersignature over garbage never verifies.
func FuzzParseResults(f *testing.F) {
	f.Add([]byte("WGR1\x00\x00\x00\x01\x01\x00\x02{}"), 1)
	f.Add([]byte("WGR1\x00\x00\x00\x01\x00"), 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > maxBatchRecords {
			return
		}
		res, err := parseResults(b, n)
		if err != nil {
			return
		}
		if len(res) != n {
			t.Fatalf("%d results for %d records", len(res), n)
		}
		for _, r := range res {
			if (r.cs == nil) == (r.err == nil) {
				t.Fatal("a result must be a countersignature or a refusal")
			}
			if r.cs != nil && r.cs.Verify(ed25519.PublicKey(r.cs.ReceiverKey), fuzzEntry(t, b)) == nil {
				t.Fatal("forged countersignature verified")
			}
		}
	})
}

func FuzzParseCountersign(f *testing.F) {
	f.Add([]byte(`{"sent_entry_hash":"` + strings.Repeat("00", 32) + `","received_entry":"","receiver_key":"` +
		base64.StdEncoding.EncodeToString(make([]byte, 32)) + `","signature":"` + base64.StdEncoding.EncodeToString(make([]byte, 64)) + `"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := receipt.ParseCountersign(b)
		if err != nil {
			return
		}
		// A parsed countersignature over garbage must never verify.
		if c.Verify(ed25519.PublicKey(c.ReceiverKey), fuzzEntry(t, b)) == nil {
			t.Fatal("forged countersignature verified")
		}
	})
}

func FuzzParseReceipt(f *testing.F) {
	f.Add([]byte(`{"version":1,"ledger":{}}`))
	f.Add([]byte(`{"version":1,"status":"pending"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := receipt.ParseReceipt(b)
		if err != nil {
			return
		}
		if rc.Ledger == nil {
			t.Fatal("parsed receipt without a ledger part")
		}
	})
}
