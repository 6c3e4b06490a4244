package proxy

import (
	"errors"

	"github.com/llmproxy/proxy/providers/jsonpatch"
)

// Raw JSON surgery for the WebSocket route: a response.create message
// becomes a POST /v1/responses body by dropping and adding top-level
// members, and a conversation is kept as the raw bytes of its items, so
// that nothing the client or the upstream wrote is re-encoded. Every
// document handled here was validated first.

// errEscapedKey refuses a top-level key written with escapes: the route
// decides from keys it compares byte for byte, and an upstream would read
// "typ\u0065" as "type".
var errEscapedKey = errors.New("top-level keys must be written without escapes")

// member is one top-level member of an object: the key without its quotes
// and the raw value.
type member struct {
	key, value []byte
	// raw is the whole `"key":value` text.
	raw []byte
}

// members lists the top-level members of the object doc.
func members(doc []byte, dst []member) ([]member, error) {
	i := skipWS(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return dst, jsonpatch.ErrNotObject
	}
	i++
	for {
		i = skipWS(doc, i)
		if i >= len(doc) {
			return dst, jsonpatch.ErrNotObject
		}
		switch doc[i] {
		case '}':
			return dst, nil
		case ',':
			i++
			continue
		}
		ks := i
		ke := jsonpatch.ValueEnd(doc, i)
		if ke < 0 || doc[ks] != '"' {
			return dst, jsonpatch.ErrNotObject
		}
		for _, c := range doc[ks+1 : ke-1] {
			if c == '\\' {
				return dst, errEscapedKey
			}
		}
		i = skipWS(doc, ke)
		if i >= len(doc) || doc[i] != ':' {
			return dst, jsonpatch.ErrNotObject
		}
		vs := skipWS(doc, i+1)
		ve := jsonpatch.ValueEnd(doc, vs)
		if ve < 0 {
			return dst, jsonpatch.ErrNotObject
		}
		dst = append(dst, member{key: doc[ks+1 : ke-1], value: doc[vs:ve], raw: doc[ks:ve]})
		i = ve
	}
}

// lookup returns the value of key among ms, nil if absent. Keys are
// unique in what reaches it (see uniqueKeys).
func lookup(ms []member, key string) []byte {
	for _, m := range ms {
		if string(m.key) == key {
			return m.value
		}
	}
	return nil
}

// uniqueKeys reports a key that appears twice: the route would decide from
// one value and an upstream might use the other.
func uniqueKeys(ms []member) string {
	for i := range ms {
		for j := i + 1; j < len(ms); j++ {
			if string(ms[i].key) == string(ms[j].key) {
				return string(ms[i].key)
			}
		}
	}
	return ""
}

// elements lists the raw elements of the JSON array arr.
func elements(arr []byte, dst [][]byte) ([][]byte, error) {
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return dst, errors.New("not an array")
	}
	i++
	for {
		i = skipWS(arr, i)
		if i >= len(arr) {
			return dst, errors.New("unterminated array")
		}
		switch arr[i] {
		case ']':
			return dst, nil
		case ',':
			i++
			continue
		}
		e := jsonpatch.ValueEnd(arr, i)
		if e < 0 {
			return dst, errors.New("malformed array element")
		}
		dst = append(dst, arr[i:e])
		i = e
	}
}

// appendObject appends an object made of the members of ms that keep
// allows, then the extra raw `"key":value` members.
func appendObject(dst []byte, ms []member, keep func(key []byte) bool, extra ...[]byte) []byte {
	dst = append(dst, '{')
	n := 0
	for _, m := range ms {
		if !keep(m.key) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m.raw...)
		n++
	}
	for _, e := range extra {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
		n++
	}
	return append(dst, '}')
}

// appendArray appends the raw items as one JSON array.
func appendArray(dst []byte, items ...[][]byte) []byte {
	dst = append(dst, '[')
	n := 0
	for _, list := range items {
		for _, it := range list {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, it...)
			n++
		}
	}
	return append(dst, ']')
}

// jsonString returns the contents of a JSON string value without escapes,
// and false for anything else (ids and item types never need escapes).
func jsonString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}
