package hl7

import (
	"errors"
	"strings"
	"testing"
)

func mshWith(security string) []byte {
	return []byte("MSH|^~\\&|ADT1|STMARY|HIS|CITYGEN|20260101120000|" + security + "|ADT^A01^ADT_A01|MSG00001|P|2.5\rPID|1||PATID1234\r")
}

func TestPurposeOfUse(t *testing.T) {
	for _, tc := range []struct {
		msh8, want string
	}{
		{"", ""},
		{"TREAT", "TREAT"},
		{"HRESCH^healthcare research^v3-ActReason", "HRESCH"},
		{"ETREAT^", "ETREAT"},
	} {
		got, err := PurposeOfUse(mshWith(tc.msh8))
		if err != nil || got != tc.want {
			t.Errorf("MSH-8 %q: %q, %v; want %q", tc.msh8, got, err, tc.want)
		}
	}
	// A short MSH (no MSH-8 at all) names no purpose.
	if got, err := PurposeOfUse([]byte("MSH|^~\\&|A|B\r")); err != nil || got != "" {
		t.Errorf("short MSH: %q, %v", got, err)
	}
	for _, tc := range []struct{ msh8, want string }{
		{"TREAT~HRESCH", "repeats"},
		{"^treatment", "0 bytes"},
		{"TR EAT", "byte 3"},
		{"TRE\\T\\AT", "byte 4"},
		{"secret&password", "byte 7"},
		{strings.Repeat("A", 65), "65 bytes"},
	} {
		_, err := PurposeOfUse(mshWith(tc.msh8))
		if !errors.Is(err, ErrBadPurpose) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.msh8) {
			t.Errorf("MSH-8 %q: %v, want ErrBadPurpose naming %q without echoing the field", tc.msh8, err, tc.want)
		}
	}
	if _, err := PurposeOfUse([]byte("PID|1||X\r")); !errors.Is(err, ErrBadHL7) {
		t.Errorf("no MSH: %v, want ErrBadHL7", err)
	}
}

func FuzzPurposeOfUse(f *testing.F) {
	f.Add(mshWith("TREAT"))
	f.Add(mshWith("HRESCH^research^v3-ActReason"))
	f.Add(mshWith("A~B"))
	f.Add([]byte("MSH|^|A|B|C|D|E|X^Y"))
	f.Add([]byte("MSH#@~|A#B#C#D#E#F#T@x"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		p, err := PurposeOfUse(msg)
		switch {
		case err != nil && (p != "" || !errors.Is(err, ErrBadPurpose) && !errors.Is(err, ErrBadHL7)):
			t.Fatalf("%q, %v: an error must be named and give no purpose", p, err)
		case err == nil && len(p) > maxPurpose:
			t.Fatalf("purpose of %d bytes", len(p))
		}
		for i := 0; err == nil && i < len(p); i++ {
			if c := p[i]; !isAlnum(c) && c != '-' && c != '.' && c != '_' {
				t.Fatalf("purpose %q holds %q", p, c)
			}
		}
	})
}
