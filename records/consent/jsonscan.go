package consent

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// jsonscan.go is a one-pass JSON scanner: it validates a document as
// json.Valid does and hands the caller each object key, so that the gate
// reads the few fields it needs (subject.go) without decoding the rest.
// json.Unmarshal of a whole record was nearly all of the gate's cost
// (issue 17: the gate must cost under 10% of bulk throughput).

// errSyntax: the bytes are not JSON.
var errSyntax = errors.New("not FHIR JSON")

// maxJSONDepth bounds nesting, and with it the scanner's stack. FHIR
// resources nest a few dozen levels at most (contained resources,
// extensions of extensions); encoding/json's own bound is 10000.
const maxJSONDepth = 512

type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) syntaxErr(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, s.i)
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) next() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// end checks that only whitespace follows the document.
func (s *scanner) end() error {
	if s.next() != 0 || s.i != len(s.b) {
		return s.syntaxErr("data after the JSON value")
	}
	return nil
}

// skip consumes and validates one value of any kind.
func (s *scanner) skip() error {
	switch c := s.next(); {
	case c == '{':
		return s.object(func([]byte, bool) error { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == 0 && s.i == len(s.b):
		return s.syntaxErr("unexpected end")
	}
	return s.syntaxErr("unexpected character")
}

func (s *scanner) enter() error {
	if s.depth++; s.depth > maxJSONDepth {
		return s.syntaxErr(fmt.Sprintf("nested more than %d deep", maxJSONDepth))
	}
	s.i++ // the '{' or '['
	return nil
}

// object consumes the object that starts at s.i. For each key it calls
// field with the key's raw bytes (between the quotes) and whether they are
// plain (ASCII, no escapes); field must consume the value.
func (s *scanner) object(field func(key []byte, plain bool) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	if s.next() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.next() != '"' {
			return s.syntaxErr("object key must be a string")
		}
		key, plain, err := s.str()
		if err != nil {
			return err
		}
		if s.next() != ':' {
			return s.syntaxErr("missing ':' after object key")
		}
		s.i++
		if err := field(key, plain); err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.syntaxErr("missing ',' or '}' in object")
		}
	}
}

// array consumes the array that starts at s.i, calling elem for each
// element; elem must consume it.
func (s *scanner) array(elem func() error) error {
	if err := s.enter(); err != nil {
		return err
	}
	if s.next() == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.syntaxErr("missing ',' or ']' in array")
		}
	}
}

// strPlain marks the bytes a string may hold that need no decoding:
// printable ASCII other than '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str consumes the string that starts at s.i and returns its raw bytes
// (between the quotes) and whether they are plain: ASCII without escapes,
// so the raw bytes are the value.
func (s *scanner) str() (raw []byte, plain bool, err error) {
	s.i++ // the opening quote
	start, b := s.i, s.b
	plain = true
	for i := start; i < len(b); {
		i = plainRun(b, i)
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return b[start:i], plain, nil
		case c == '\\':
			plain = false
			n, ok := escapeLen(b[i:])
			if !ok {
				s.i = i
				return nil, false, s.syntaxErr("invalid escape in string")
			}
			i += n
		case c < 0x20:
			s.i = i
			return nil, false, s.syntaxErr("control character in string")
		default: // non-ASCII: json.Unmarshal decodes it (invalid UTF-8 becomes U+FFFD)
			plain = false
			i++
		}
	}
	s.i = len(b)
	return nil, false, s.syntaxErr("unterminated string")
}

// Word-at-a-time constants for plainRun.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainRun returns the index of the first byte at or after i that is not
// plain (strPlain), eight bytes at a time: the strings the gate skips
// (narratives, values, attachments) are most of a record's bytes.
func plainRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		q, bs := w^(ones*'"'), w^(ones*'\\')
		// A byte is flagged if it is >= 0x80, < 0x20, '"' or '\\'
		// (haszero/hasless bit tricks; exact for bytes < 0x80).
		if (w|(w-ones*0x20)|((q-ones)&^q)|((bs-ones)&^bs))&highs != 0 {
			break
		}
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	return i
}

// escapeLen is the length of the escape sequence at the start of b.
func escapeLen(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		if len(b) < 6 {
			return 0, false
		}
		for _, h := range b[2:6] {
			if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
				return 0, false
			}
		}
		return 6, true
	}
	return 0, false
}

// number consumes a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		s.i = i
		return s.syntaxErr("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			s.i = i
			return s.syntaxErr("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.i = i
			return s.syntaxErr("invalid number")
		}
	}
	s.i = i
	return nil
}

func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return s.syntaxErr("invalid literal")
	}
	s.i += len(word)
	return nil
}

// decoded is the value of a string's raw bytes, as json.Unmarshal gives it.
func decoded(raw []byte, plain bool) string {
	if plain {
		return string(raw)
	}
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var v string
	if err := json.Unmarshal(q, &v); err != nil {
		return "" // unreachable: str validated it
	}
	return v
}

// keyIs reports whether an object key selects the struct field name, as
// encoding/json matches keys: exactly, else by bytes.EqualFold.
func keyIs(raw []byte, plain bool, name string) bool {
	if plain {
		return string(raw) == name || bytes.EqualFold(raw, []byte(name))
	}
	return bytes.EqualFold([]byte(decoded(raw, plain)), []byte(name))
}
