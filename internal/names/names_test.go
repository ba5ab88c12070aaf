package names_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardgate/wardgate/internal/names"
	"github.com/wardgate/wardgate/ledger/proof"
)

func TestCheckAccepts(t *testing.T) {
	// Every name used in configs/, the integration tests and the unit tests
	// of the packages that check names.
	for _, s := range []string{"a", "b", "hospital-a", "hosp-b", "st-mary", "city-general",
		"0", "9lives", "a-b-c", strings.Repeat("x", names.MaxLen)} {
		if err := names.Check(s); err != nil {
			t.Errorf("Check(%q): %v", s, err)
		}
		if !names.Valid(s) {
			t.Errorf("Valid(%q) is false", s)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	for _, tc := range []struct{ s, want string }{
		{"", "it is empty"},
		{strings.Repeat("x", names.MaxLen+1), "64 bytes, longer than 63"},
		{"-a", "starts or ends with '-'"},
		{"a-", "starts or ends with '-'"},
		{"Hospital-A", `has 'H' at byte 0`},
		{"hospital_a", `has '_' at byte 8`},
		{"hospital.a", `has '.' at byte 8`},
		{"a b", `has ' ' at byte 1`},
		{"a\nb", `has '\n' at byte 1`},
		{"é", `has 'Ã' at byte 0`},
		{"a/b", `has '/' at byte 1`},
	} {
		err := names.Check(tc.s)
		if err == nil {
			t.Errorf("Check(%q) accepted", tc.s)
			continue
		}
		if !errors.Is(err, names.ErrBadBox) {
			t.Errorf("Check(%q) = %v, does not wrap ErrBadBox", tc.s, err)
		}
		for _, w := range []string{tc.want, "is not a box name", "e.g. hospital-a"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Check(%q) = %q, want it to contain %q", tc.s, err, w)
			}
		}
		if names.Valid(tc.s) {
			t.Errorf("Valid(%q) is true", tc.s)
		}
	}
}

func TestCheckBoxNamesField(t *testing.T) {
	err := names.CheckBox("peers[2].name", "B")
	if err == nil || !errors.Is(err, names.ErrBadBox) || !strings.HasPrefix(err.Error(), `peers[2].name: "B" is not a box name`) {
		t.Fatalf("CheckBox = %v", err)
	}
	if err := names.CheckBox("box", "b"); err != nil {
		t.Fatalf("CheckBox(valid) = %v", err)
	}
}

// A long name must not be echoed whole: it comes from the network too.
func TestCheckBoundsTheError(t *testing.T) {
	err := names.Check(strings.Repeat("x", 1<<20))
	if err == nil || len(err.Error()) > 400 {
		t.Fatalf("error is %d bytes", len(err.Error()))
	}
}

// A box name must fit every place it is written, including a ledger
// entry's length-prefixed strings.
func TestMaxLenFitsLedgerEntry(t *testing.T) {
	if names.MaxLen > proof.MaxNameLen {
		t.Fatalf("names.MaxLen %d exceeds the ledger entry's %d", names.MaxLen, proof.MaxNameLen)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("hospital-a")
	f.Add("-")
	f.Add("A")
	f.Fuzz(func(t *testing.T, s string) {
		err := names.Check(s)
		if (err == nil) != (len(s) >= 1 && len(s) <= names.MaxLen && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" && s[0] != '-' && s[len(s)-1] != '-') {
			t.Fatalf("Check(%q) = %v", s, err)
		}
	})
}
