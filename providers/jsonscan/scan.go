// Package jsonscan checks a request body in one pass, without building a
// tree: strict JSON (RFC 8259: no NaN, no Infinity, no number that
// overflows a float64), a bound on nesting and on the number of values, and
// a top-level object whose keys are written plainly and appear once.
//
// Upstreams decode duplicate keys last-wins while a proxy that reads the
// first occurrence would authorise and route on another value than the one
// the upstream uses; a key spelt with escapes ("mod\u0065l") hides the same
// trick. Rejecting both closes that gap for every field at once.
package jsonscan

import (
	"bytes"
	"fmt"
	"strconv"
	"unsafe"
)

// Limits bound what one body may contain. Zero fields take the defaults.
type Limits struct {
	// MaxDepth bounds nesting of objects and arrays (default 128).
	MaxDepth int
	// MaxValues bounds the number of JSON values in the body (default 250,000):
	// a parsed tree costs tens of bytes per value, so this bounds what a
	// small body of tiny values ([1,1,1,...]) can cost once parsed.
	MaxValues int
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 128
	}
	if l.MaxValues <= 0 {
		l.MaxValues = 250_000
	}
	return l
}

// Member is one member of the top-level object.
type Member struct {
	Key []byte
	// Value is the member's raw JSON text.
	Value []byte
	// Elems counts the elements of an array value (0 for other kinds).
	Elems int
}

// Error is a body the scanner refuses. Offset is the byte where the
// problem starts; Msg says what is wrong in plain words.
type Error struct {
	Offset int
	Msg    string
	// Key names the top-level key at fault, for duplicate or escaped keys.
	Key string
	// TooLarge marks a body over Limits (the status is 413, not 400).
	TooLarge bool
}

func (e *Error) Error() string {
	return e.Msg + " (at byte " + strconv.Itoa(e.Offset) + ")"
}

// maxMembers bounds the top-level keys tracked for duplicates; request
// objects have a few dozen, and a body with more is refused.
const maxMembers = 256

// inlineMembers is how many keys Object tracks without allocating. The
// tracking array lives on the caller's stack, and the request goroutine's
// stack is what an open stream keeps for its whole life: a 256-slot array
// of slices (6 KB) made every request goroutine grow to 16 KB.
const inlineMembers = 32

// keySpan is where a top-level key sits in the body.
type keySpan struct{ at, n int }

// Object scans body, which must be one JSON object, and calls fn for each
// top-level member in order. It returns the first problem as an *Error, or
// fn's error.
func Object(body []byte, lim Limits, fn func(m Member) error) error {
	s := scanner{buf: body, lim: lim.withDefaults()}
	s.skipSpace()
	if s.pos >= len(s.buf) {
		return s.fail("the request body is empty; send a JSON object")
	}
	if s.buf[s.pos] != '{' {
		return s.fail("the request body must be a JSON object, starting with '{'")
	}
	s.values++
	s.pos++
	var inline [inlineMembers]keySpan
	seen := inline[:0]
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		return s.end()
	}
	for {
		s.skipSpace()
		if s.peek() != '"' {
			return s.fail("expected a quoted key in the top-level object")
		}
		keyAt := s.pos
		escaped, err := s.string()
		if err != nil {
			return err
		}
		key := s.buf[keyAt+1 : s.pos-1]
		if escaped {
			return &Error{Offset: keyAt, Key: string(key), Msg: fmt.Sprintf("top-level key %q uses escape sequences; write request keys plainly", key)}
		}
		for _, k := range seen {
			if bytes.Equal(s.buf[k.at:k.at+k.n], key) {
				return &Error{Offset: keyAt, Key: string(key), Msg: fmt.Sprintf("key %q appears more than once in the request object", key)}
			}
		}
		if len(seen) == maxMembers {
			return &Error{Offset: keyAt, Msg: fmt.Sprintf("the request object has more than %d keys", maxMembers)}
		}
		seen = append(seen, keySpan{at: keyAt + 1, n: len(key)})
		s.skipSpace()
		if s.peek() != ':' {
			return s.fail("expected ':' after a key")
		}
		s.pos++
		s.skipSpace()
		valAt := s.pos
		elems, err := s.value(1)
		if err != nil {
			return err
		}
		if err := fn(Member{Key: key, Value: s.buf[valAt:s.pos], Elems: elems}); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return s.end()
		default:
			return s.fail("expected ',' or '}' after a value in the top-level object")
		}
	}
}

// Valid checks that body is strict JSON within lim, whatever its shape.
func Valid(body []byte, lim Limits) error {
	s := scanner{buf: body, lim: lim.withDefaults()}
	s.skipSpace()
	if _, err := s.value(0); err != nil {
		return err
	}
	return s.end()
}

type scanner struct {
	buf    []byte
	pos    int
	values int
	lim    Limits
}

func (s *scanner) peek() byte {
	if s.pos < len(s.buf) {
		return s.buf[s.pos]
	}
	return 0
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) end() error {
	s.skipSpace()
	if s.pos != len(s.buf) {
		return s.fail("unexpected text after the end of the JSON value")
	}
	return nil
}

// fail describes the byte at the current position.
func (s *scanner) fail(what string) error {
	if s.pos >= len(s.buf) {
		return &Error{Offset: s.pos, Msg: what + ", but the body ended (truncated JSON?)"}
	}
	c := s.buf[s.pos]
	found := fmt.Sprintf("found %q", c)
	if c < 0x20 || c >= 0x7f {
		found = fmt.Sprintf("found byte 0x%02x", c)
	}
	return &Error{Offset: s.pos, Msg: what + ", " + found}
}

// value scans one value at depth and returns its element count if it is
// an array.
func (s *scanner) value(depth int) (int, error) {
	s.values++
	if s.values > s.lim.MaxValues {
		return 0, &Error{Offset: s.pos, TooLarge: true,
			Msg: fmt.Sprintf("the request has more than %d JSON values", s.lim.MaxValues)}
	}
	switch c := s.peek(); {
	case c == '{':
		return 0, s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, err := s.string()
		return 0, err
	case c == '-' || (c >= '0' && c <= '9'):
		return 0, s.number()
	case c == 't':
		return 0, s.literal("true")
	case c == 'f':
		return 0, s.literal("false")
	case c == 'n':
		return 0, s.literal("null")
	default:
		return 0, s.fail("expected a JSON value (object, array, string, number, true, false or null; NaN and Infinity are not JSON)")
	}
}

func (s *scanner) nest(depth int) error {
	if depth > s.lim.MaxDepth {
		return &Error{Offset: s.pos, TooLarge: true, Msg: fmt.Sprintf("the request nests objects and arrays deeper than %d levels", s.lim.MaxDepth)}
	}
	return nil
}

func (s *scanner) object(depth int) error {
	if err := s.nest(depth); err != nil {
		return err
	}
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if s.peek() != '"' {
			return s.fail("expected a quoted key in an object")
		}
		if _, err := s.string(); err != nil {
			return err
		}
		s.skipSpace()
		if s.peek() != ':' {
			return s.fail("expected ':' after a key")
		}
		s.pos++
		s.skipSpace()
		if _, err := s.value(depth); err != nil {
			return err
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or '}' after a value in an object")
		}
	}
}

func (s *scanner) array(depth int) (int, error) {
	if err := s.nest(depth); err != nil {
		return 0, err
	}
	s.pos++ // '['
	s.skipSpace()
	if s.peek() == ']' {
		s.pos++
		return 0, nil
	}
	n := 0
	for {
		s.skipSpace()
		if _, err := s.value(depth); err != nil {
			return 0, err
		}
		n++
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return n, nil
		default:
			return 0, s.fail("expected ',' or ']' after a value in an array")
		}
	}
}

// string scans a string starting at its opening quote and reports whether
// it contains escape sequences.
func (s *scanner) string() (bool, error) {
	start := s.pos
	s.pos++ // opening quote
	escaped := false
	for {
		// Fast path: plain bytes up to the next quote or backslash.
		i := bytes.IndexAny(s.buf[s.pos:], "\"\\")
		if i < 0 {
			s.pos = len(s.buf)
			return false, &Error{Offset: start, Msg: "a string is not closed before the body ends"}
		}
		for _, c := range s.buf[s.pos : s.pos+i] {
			if c < 0x20 {
				s.pos += bytes.IndexByte(s.buf[s.pos:], c)
				return false, s.fail("control characters must be escaped inside strings")
			}
		}
		s.pos += i
		if s.buf[s.pos] == '"' {
			s.pos++
			return escaped, nil
		}
		escaped = true
		s.pos++ // backslash
		switch s.peek() {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			s.pos++
		case 'u':
			if s.pos+5 > len(s.buf) {
				return false, s.fail("a \\u escape needs four hex digits")
			}
			for _, h := range s.buf[s.pos+1 : s.pos+5] {
				if !isHex(h) {
					return false, s.fail("a \\u escape needs four hex digits")
				}
			}
			s.pos += 5
		default:
			return false, s.fail("invalid escape sequence in a string")
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.buf[s.pos:], []byte(word)) {
		return s.fail("expected a JSON value (NaN, Infinity and bare words are not JSON)")
	}
	s.pos += len(word)
	return nil
}

// number scans an RFC 8259 number and refuses one that does not fit a
// float64 (1e999): decoders either fail on it or turn it into Infinity,
// which is not JSON when written back.
func (s *scanner) number() error {
	start := s.pos
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return s.fail("expected a digit in a number (NaN and Infinity are not JSON)")
	}
	frac := false
	if s.peek() == '.' {
		s.pos++
		if c := s.peek(); c < '0' || c > '9' {
			return s.fail("expected a digit after the decimal point")
		}
		s.digits()
		frac = true
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if c := s.peek(); c < '0' || c > '9' {
			return s.fail("expected a digit in a number's exponent")
		}
		s.digits()
		frac = true
	}
	text := s.buf[start:s.pos]
	if frac || len(text) > 18 {
		// Only long or exponent forms can overflow; the common small
		// integer costs no conversion.
		if _, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(text), len(text)), 64); err != nil {
			return &Error{Offset: start, Msg: fmt.Sprintf("the number %.40s is out of range for a 64-bit float", text)}
		}
	}
	return nil
}

func (s *scanner) digits() {
	for s.pos < len(s.buf) && s.buf[s.pos] >= '0' && s.buf[s.pos] <= '9' {
		s.pos++
	}
}
