package convert

import (
	"strconv"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// appendValue re-serializes v. fastjson's own MarshalTo can emit Go-style
// escapes and non-JSON numbers (NaN), so strings go through
// wire.AppendJSONString and numbers are checked.
func appendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(k []byte, vv *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = wire.AppendJSONString(dst, b2s(k))
			dst = append(dst, ':')
			dst = appendValue(dst, vv)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, vv := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, vv)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return wire.AppendJSONString(dst, b2s(s))
	case fastjson.TypeNumber:
		f, err := v.Float64()
		raw := v.MarshalTo(nil)
		if err == nil && validNumber(raw) {
			return append(dst, raw...)
		}
		if err == nil && f == f && f < 1e308 && f > -1e308 {
			return strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
		return append(dst, '0')
	case fastjson.TypeTrue:
		return append(dst, "true"...)
	case fastjson.TypeFalse:
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}

// validNumber reports whether s is a JSON number per RFC 8259.
func validNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

// str returns the string at key, or "" when absent or not a string.
func str(v *fastjson.Value, key string) string {
	x := v.Get(key)
	if x == nil || x.Type() != fastjson.TypeString {
		return ""
	}
	b, _ := x.StringBytes()
	return string(b)
}

// strB is str without the copy; the result dies with the parser.
func strB(v *fastjson.Value, key string) []byte {
	x := v.Get(key)
	if x == nil || x.Type() != fastjson.TypeString {
		return nil
	}
	b, _ := x.StringBytes()
	return b
}

// get returns the first of keys present in v (Gemini accepts both the
// camelCase and the snake_case spelling of every field).
func get(v *fastjson.Value, keys ...string) *fastjson.Value {
	for _, k := range keys {
		if x := v.Get(k); x != nil {
			return x
		}
	}
	return nil
}

func isType(v *fastjson.Value, t fastjson.Type) bool { return v != nil && v.Type() == t }

// optFloat reads a number field; present-but-not-a-number is an error.
func optFloat(v *fastjson.Value, field string, keys ...string) (float64, bool, error) {
	x := get(v, keys...)
	if x == nil || x.Type() == fastjson.TypeNull {
		return 0, false, nil
	}
	f, err := x.Float64()
	if err != nil || x.Type() != fastjson.TypeNumber {
		return 0, false, fieldErr(field, "must be a number")
	}
	return f, true, nil
}

// optInt reads an integer field; present-but-not-an-integer is an error.
func optInt(v *fastjson.Value, field string, keys ...string) (int, bool, error) {
	x := get(v, keys...)
	if x == nil || x.Type() == fastjson.TypeNull {
		return 0, false, nil
	}
	n, err := x.Int()
	if err != nil {
		return 0, false, fieldErr(field, "must be an integer")
	}
	return n, true, nil
}

// objectArgs parses a tool-call argument string into a JSON object. Empty
// means no arguments.
func objectArgs(field string, s []byte) ([]byte, error) {
	if len(s) == 0 {
		return []byte("{}"), nil
	}
	var p fastjson.Parser
	if fastjson.ValidateBytes(s) != nil {
		return nil, fieldErr(field, "is not valid JSON")
	}
	v, err := p.ParseBytes(s)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, fieldErr(field, "must be a JSON object")
	}
	return appendValue(nil, v), nil
}

func appendFloat(dst []byte, f float64) []byte { return strconv.AppendFloat(dst, f, 'g', -1, 64) }

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

// appendKey appends `,"key":` (or without the comma at an object's start).
func appendKey(dst []byte, key string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendStrField(dst []byte, key, val string) []byte {
	return wire.AppendJSONString(appendKey(dst, key), val)
}

// splitDataURL splits "data:<mime>;base64,<data>".
func splitDataURL(u string) (mime, data string, ok bool) {
	const pre = "data:"
	if len(u) < len(pre) || u[:len(pre)] != pre {
		return "", "", false
	}
	rest := u[len(pre):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == ',' {
			meta := rest[:i]
			const b64 = ";base64"
			if len(meta) < len(b64) || meta[len(meta)-len(b64):] != b64 {
				return "", "", false
			}
			return meta[:len(meta)-len(b64)], rest[i+1:], true
		}
	}
	return "", "", false
}

// mimeFromURL guesses an image media type from a URL's extension; "" when
// unknown.
func mimeFromURL(u string) string {
	end := len(u)
	for i := 0; i < len(u); i++ {
		if u[i] == '?' || u[i] == '#' {
			end = i
			break
		}
	}
	p := u[:end]
	for _, e := range [...]struct{ ext, mime string }{
		{".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
		{".gif", "image/gif"}, {".webp", "image/webp"}, {".heic", "image/heic"},
		{".heif", "image/heif"}, {".pdf", "application/pdf"},
	} {
		if len(p) >= len(e.ext) && equalFold(p[len(p)-len(e.ext):], e.ext) {
			return e.mime
		}
	}
	return ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// strS is str without the copy. Request and Response use it for the whole
// neutral model: it is written out before their parser goes away.
func strS(v *fastjson.Value, key string) string { return b2s(strB(v, key)) }

var errNotArray = fieldErr("", "not an array")

// arrayOf is Value.Array that tolerates an absent value.
func arrayOf(v *fastjson.Value) ([]*fastjson.Value, error) {
	if v == nil {
		return nil, errNotArray
	}
	return v.Array()
}
