// Package names holds the one rule for box names: the name a box gives
// itself (config box), the names of its peers, the To: of a record, the
// sender and receiver in a ledger entry, and a WireGuard peer's name.
//
// A box name is a DNS label (RFC 1123): 1-63 lower-case letters, digits
// and '-', starting and ending with a letter or digit. It is the tightest
// of the places a name ends up, so one rule keeps a name that passes here
// from failing further on:
//   - the attestation listener's certificate carries it as a DNS SAN;
//   - the ledger entry encodes it behind a one-byte length;
//   - logs, metrics labels and URL paths carry it without escaping;
//   - compared as bytes, "Hospital-A" and "hospital-a" would be two boxes.
package names

import (
	"errors"
	"fmt"
)

// MaxLen is the longest box name, in bytes: a DNS label.
const MaxLen = 63

// ErrBadBox is wrapped by every error Check and CheckBox return.
var ErrBadBox = errors.New("is not a box name")

// fix is the rule, written as the way to correct a name.
const fix = "use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit, e.g. hospital-a"

// Check reports what is wrong with s as a box name, and the fix; nil if
// it is a valid box name. The error does not name the field (see CheckBox).
func Check(s string) error {
	switch {
	case s == "":
		return fmt.Errorf(`"" %w: it is empty; %s`, ErrBadBox, fix)
	case len(s) > MaxLen:
		// Quote only the head: names come from the network too, and an
		// error is logged and sent back.
		return fmt.Errorf("%q... %w: it is %d bytes, longer than %d; %s", s[:MaxLen], ErrBadBox, len(s), MaxLen, fix)
	case s[0] == '-' || s[len(s)-1] == '-':
		return fmt.Errorf("%q %w: it starts or ends with '-'; %s", s, ErrBadBox, fix)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLabelByte(c) {
			return fmt.Errorf("%q %w: it has %q at byte %d; %s", s, ErrBadBox, c, i, fix)
		}
	}
	return nil
}

// CheckBox is Check with the field the name came from (a config key, a
// header, a message field) in front, so the caller's error says where.
func CheckBox(field, s string) error {
	if err := Check(s); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// Valid reports whether s is a valid box name.
func Valid(s string) bool { return Check(s) == nil }

func isLabelByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}
