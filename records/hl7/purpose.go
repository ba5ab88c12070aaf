package hl7

import (
	"bytes"
	"errors"
	"fmt"
)

// The purpose of use of an HL7 v2 message (issue 17). HL7 v2 has no
// purpose-of-use field in MSH, so wardgate reads it from MSH-8 (Security),
// a field v2 leaves to site agreement: its first component is the code
// (HL7 v3 PurposeOfUse, e.g. TREAT), any further components (text, coding
// system) are ignored. docs/decisions.md says why.

// ErrBadPurpose: MSH-8 does not hold one purpose-of-use code.
var ErrBadPurpose = errors.New("hl7: MSH-8 (purpose of use) is malformed")

// maxPurpose bounds a purpose code, as the HTTP Purpose header is bounded.
const maxPurpose = 64

// PurposeOfUse returns the purpose-of-use code in MSH-8 of msg, or "" if
// MSH-8 is empty. An MSH-8 that is not one code is ErrBadPurpose; the
// error does not echo the field, which some systems fill with credentials.
func PurposeOfUse(msg []byte) (string, error) {
	if len(msg) < 8 || string(msg[:3]) != "MSH" || !isDelim(msg[3]) {
		return "", fmt.Errorf("%w: message must start with an MSH segment", ErrBadHL7)
	}
	fs := msg[3]
	seg := msg
	if i := bytes.IndexAny(seg, "\r\n"); i >= 0 {
		seg = seg[:i]
	}
	// MSH-n is the (n-1)th field after the segment name: MSH-1 is the
	// separator itself, so MSH-2 (the encoding characters) is field 1.
	fields := bytes.SplitN(seg, []byte{fs}, 9)
	if len(fields) < 8 {
		return "", nil
	}
	enc, f := fields[1], fields[7]
	if len(f) == 0 {
		return "", nil
	}
	if len(enc) >= 2 && bytes.IndexByte(f, enc[1]) >= 0 {
		return "", fmt.Errorf("%w: it repeats (holds the repetition separator %q); give one purpose of use code, e.g. TREAT", ErrBadPurpose, enc[1])
	}
	code := f
	if len(enc) >= 1 {
		code, _, _ = bytes.Cut(f, enc[:1])
	}
	if len(code) == 0 || len(code) > maxPurpose {
		return "", fmt.Errorf("%w: its first component is %d bytes; give a purpose of use code of 1 to %d characters, e.g. TREAT", ErrBadPurpose, len(code), maxPurpose)
	}
	for i, c := range code {
		if !isAlnum(c) && c != '-' && c != '.' && c != '_' {
			return "", fmt.Errorf("%w: byte %d of its first component is not a letter, digit, '-', '.' or '_'; give a purpose of use code, e.g. TREAT", ErrBadPurpose, i+1)
		}
	}
	return string(code), nil
}
