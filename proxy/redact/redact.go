// Package redact removes credentials from text before it reaches a log line,
// an error message or the prompt log.
//
// It recognises credentials by shape, so keys the proxy never saw in its own
// config (a client's key echoed back by an upstream error) are caught too:
//
//   - header-like pairs whose name is authorization, proxy-authorization,
//     api-key, x-api-key, x-goog-api-key, api_key, apikey or access_token,
//     followed by ':' or '=' (quotes allowed around name and value, as in
//     JSON); an auth scheme word (Bearer, Basic, Token) is kept;
//   - "Bearer <token>" anywhere;
//   - OpenAI/Anthropic style keys "sk-..." (16+ key characters after the
//     prefix) and Google API keys "AIza..." (35 key characters);
//   - query parameters key=, token= after '?' or '&' (Gemini's ?key=);
//   - every secret configured explicitly (the upstream keys, the proxy's own
//     client keys), matched exactly, wherever it appears.
//
// The scanner is a single pass with no regular expressions, and String
// returns its argument without allocating when nothing matched, so it is
// cheap enough for error paths and access logs.
package redact

import (
	"sort"
	"unsafe"
)

// Mask replaces every redacted value.
const Mask = "[REDACTED]"

// minSecretLen keeps a misconfigured short "secret" (say "a") from masking
// every occurrence of a common letter.
const minSecretLen = 6

// Redactor masks credentials. Its zero value and a nil *Redactor detect
// credentials by shape only. It is immutable, so safe for concurrent use.
type Redactor struct {
	// secrets are sorted longest first so a secret that contains another
	// is masked whole.
	secrets []string
	first   [256]bool
}

// New returns a Redactor that also masks each of secrets exactly.
// Secrets shorter than 6 bytes are ignored (see minSecretLen).
func New(secrets []string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		r.secrets = append(r.secrets, s)
		r.first[s[0]] = true
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// String returns s with credentials masked. It returns s itself (no
// allocation) when there is nothing to mask.
func (r *Redactor) String(s string) string {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	if _, _, ok := r.next(b, 0); !ok {
		return s
	}
	out := r.Bytes(make([]byte, 0, len(s)+len(Mask)), b)
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// Bytes appends b with credentials masked to dst and returns the result.
// dst and b must not overlap.
func (r *Redactor) Bytes(dst, b []byte) []byte {
	pos := 0
	for {
		start, end, ok := r.next(b, pos)
		if !ok {
			return append(dst, b[pos:]...)
		}
		dst = append(dst, b[pos:start]...)
		dst = append(dst, Mask...)
		pos = end
	}
}

// Contains reports whether b holds anything String or Bytes would mask.
func (r *Redactor) Contains(b []byte) bool {
	_, _, ok := r.next(b, 0)
	return ok
}

// next finds the first credential at or after from and returns the byte
// range to replace with Mask.
func (r *Redactor) next(b []byte, from int) (start, end int, ok bool) {
	for i := from; i < len(b); i++ {
		c := b[i]
		if r != nil && r.first[c] {
			for _, s := range r.secrets {
				if len(b)-i >= len(s) && string(b[i:i+len(s)]) == s {
					return i, i + len(s), true
				}
			}
		}
		var s, e int
		switch lower(c) {
		case 'a':
			if c == 'A' {
				if s, e, ok = googleKey(b, i); ok {
					return s, e, true
				}
			}
			// Also catches proxy-authorization, x-api-key and x-goog-api-key
			// at their "authorization"/"api-key" suffix.
			if s, e, ok = headerPair(b, i); ok {
				return s, e, true
			}
		case 'b':
			if s, e, ok = bearer(b, i); ok {
				return s, e, true
			}
		case 's':
			if s, e, ok = skKey(b, i); ok {
				return s, e, true
			}
		case '?', '&':
			if s, e, ok = queryParam(b, i); ok {
				return s, e, true
			}
		}
	}
	return 0, 0, false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// hasPrefixFold reports whether b[i:] starts with lowercase ASCII pat,
// ignoring case.
func hasPrefixFold(b []byte, i int, pat string) bool {
	if len(b)-i < len(pat) {
		return false
	}
	for j := 0; j < len(pat); j++ {
		if lower(b[i+j]) != pat[j] {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isKeyByte are the characters API keys are made of.
func isKeyByte(c byte) bool { return isWordByte(c) || c == '-' }

// isTokenByte is RFC 6750's b64token alphabet, what follows "Bearer ".
func isTokenByte(c byte) bool {
	return isKeyByte(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=' || c == ':'
}

// isValueEnd ends a header or query value: quotes (JSON, Go %q), line ends,
// list and parameter separators, and a backslash (an escaped quote inside a
// JSON string).
func isValueEnd(c byte) bool {
	switch c {
	case '"', '\'', '`', '\n', '\r', ',', ';', '&', ' ', '\t', '}', ']', ')', '\\', '#':
		return true
	}
	return false
}

func boundaryBefore(b []byte, i int) bool { return i == 0 || !isWordByte(b[i-1]) }

var headerNames = [...]string{"authorization", "api-key", "api_key", "apikey", "access_token"}

var authSchemes = [...]string{"bearer", "basic", "token"}

// headerPair matches NAME <sep> VALUE where sep is ':' or '=' with optional
// quotes and blanks around it, and masks VALUE (after a scheme word).
func headerPair(b []byte, i int) (int, int, bool) {
	if !boundaryBefore(b, i) {
		return 0, 0, false
	}
	n := 0
	for _, name := range headerNames {
		if hasPrefixFold(b, i, name) {
			n = len(name)
			break
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	j := i + n
	if j < len(b) && (isWordByte(b[j]) || b[j] == '-') {
		return 0, 0, false // a longer word, e.g. "authorizations"
	}
	if j < len(b) && (b[j] == '"' || b[j] == '\'') {
		j++
	}
	j = skipBlanks(b, j)
	if j >= len(b) || (b[j] != ':' && b[j] != '=') {
		return 0, 0, false
	}
	j = skipBlanks(b, j+1)
	// A quote opens a JSON or %q value; '[' opens a value list, as fmt
	// prints an http.Header or JSON holds multi-valued headers.
	if j < len(b) && b[j] == '[' {
		j++
	}
	if j < len(b) && (b[j] == '"' || b[j] == '\'') {
		j++
	}
	for _, scheme := range authSchemes {
		if hasPrefixFold(b, j, scheme) && j+len(scheme) < len(b) && b[j+len(scheme)] == ' ' {
			j = skipBlanks(b, j+len(scheme))
			break
		}
	}
	e := j
	for e < len(b) && !isValueEnd(b[e]) {
		e++
	}
	if e == j {
		return 0, 0, false
	}
	return j, e, true
}

func skipBlanks(b []byte, j int) int {
	for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
		j++
	}
	return j
}

// bearer masks the token after "Bearer ".
func bearer(b []byte, i int) (int, int, bool) {
	if !boundaryBefore(b, i) || !hasPrefixFold(b, i, "bearer") {
		return 0, 0, false
	}
	j := i + len("bearer")
	if j >= len(b) || (b[j] != ' ' && b[j] != '\t') {
		return 0, 0, false
	}
	j = skipBlanks(b, j)
	e := j
	for e < len(b) && isTokenByte(b[e]) {
		e++
	}
	if e == j {
		return 0, 0, false
	}
	return j, e, true
}

// skKey masks "sk-" keys (OpenAI sk-proj-..., Anthropic sk-ant-...). The
// 16-character floor keeps words such as "sk-learn" readable.
func skKey(b []byte, i int) (int, int, bool) {
	if b[i] != 's' || !boundaryBefore(b, i) || len(b)-i < 3 || b[i+1] != 'k' || b[i+2] != '-' {
		return 0, 0, false
	}
	e := i + 3
	for e < len(b) && isKeyByte(b[e]) {
		e++
	}
	if e-(i+3) < 16 {
		return 0, 0, false
	}
	return i, e, true
}

// googleKey masks Google API keys: "AIza" and 35 key characters.
func googleKey(b []byte, i int) (int, int, bool) {
	const prefix, body = "AIza", 35
	if !boundaryBefore(b, i) || len(b)-i < len(prefix)+body || string(b[i:i+len(prefix)]) != prefix {
		return 0, 0, false
	}
	e := i + len(prefix)
	for e < len(b) && isKeyByte(b[e]) {
		e++
	}
	if e-(i+len(prefix)) < body {
		return 0, 0, false
	}
	return i, e, true
}

var queryNames = [...]string{"key=", "token="}

// queryParam masks ?key= and &token= values; other names that carry
// credentials (api_key, access_token) are handled by headerPair.
func queryParam(b []byte, i int) (int, int, bool) {
	j := i + 1
	for _, name := range queryNames {
		if hasPrefixFold(b, j, name) {
			j += len(name)
			e := j
			for e < len(b) && !isValueEnd(b[e]) {
				e++
			}
			if e == j {
				return 0, 0, false
			}
			return j, e, true
		}
	}
	return 0, 0, false
}
