// Package jsonpatch rewrites single top-level fields of a JSON object in
// place, leaving every other byte of the document as it came: the proxy's
// pass-through path changes a model name without re-encoding the body.
package jsonpatch

import (
	"errors"
)

// ErrNotObject is returned for a document that is not a JSON object.
var ErrNotObject = errors.New("jsonpatch: document is not a JSON object")

// Find returns the byte span [start, end) of the value of the top-level key
// in the object doc; ok is false if the key is absent. The document is
// assumed to be valid JSON (the caller parsed it already).
func Find(doc []byte, key string) (start, end int, ok bool, err error) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return 0, 0, false, ErrNotObject
	}
	i++
	for {
		i = skipSpace(doc, i)
		if i >= len(doc) || doc[i] == '}' {
			return 0, 0, false, nil
		}
		if doc[i] == ',' {
			i++
			continue
		}
		ks := i
		ke := skipString(doc, i)
		if ke < 0 {
			return 0, 0, false, ErrNotObject
		}
		match := ke-ks-2 == len(key) && string(doc[ks+1:ke-1]) == key
		i = skipSpace(doc, ke)
		if i >= len(doc) || doc[i] != ':' {
			return 0, 0, false, ErrNotObject
		}
		i = skipSpace(doc, i+1)
		vs := i
		ve := skipValue(doc, i)
		if ve < 0 {
			return 0, 0, false, ErrNotObject
		}
		if match {
			return vs, ve, true, nil
		}
		i = ve
	}
}

// Replace returns doc with the top-level key's value replaced by the raw
// JSON value, or the key added at the front if absent. dst is reused.
func Replace(dst, doc []byte, key string, value []byte) ([]byte, error) {
	s, e, ok, err := Find(doc, key)
	if err != nil {
		return dst, err
	}
	if ok {
		dst = append(dst[:0], doc[:s]...)
		dst = append(dst, value...)
		return append(dst, doc[e:]...), nil
	}
	open := skipSpace(doc, 0) + 1
	dst = append(dst[:0], doc[:open]...)
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	dst = append(dst, value...)
	rest := skipSpace(doc, open)
	if rest < len(doc) && doc[rest] != '}' {
		dst = append(dst, ',')
	}
	return append(dst, doc[open:]...), nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				j := skipString(b, i)
				if j < 0 {
					return -1
				}
				i = j - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i
		}
	}
	return i
}

// ValueEnd returns the index after the JSON value starting at b[i], or -1
// if it does not end within b.
func ValueEnd(b []byte, i int) int { return skipValue(b, i) }
