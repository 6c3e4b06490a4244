package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// appendOpenAPISchema rewrites a Gemini `Schema` (OpenAPI 3.0 subset, types
// often upper-case like "OBJECT", "nullable" instead of a null type) as JSON
// Schema, which the other three protocols take.
func appendOpenAPISchema(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		nullable := isType(v.Get("nullable"), fastjson.TypeTrue)
		dst = append(dst, '{')
		first := true
		o.Visit(func(k []byte, vv *fastjson.Value) {
			key := b2s(k)
			if key == "nullable" {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = wire.AppendJSONString(dst, key)
			dst = append(dst, ':')
			switch {
			case key == "type" && vv.Type() == fastjson.TypeString:
				t, _ := vv.StringBytes()
				lt := lower(t)
				if nullable {
					dst = append(dst, '[')
					dst = wire.AppendJSONString(dst, lt)
					dst = append(dst, `,"null"]`...)
				} else {
					dst = wire.AppendJSONString(dst, lt)
				}
			case key == "properties" && vv.Type() == fastjson.TypeObject:
				// Property names are data, not schema keywords.
				po, _ := vv.Object()
				dst = append(dst, '{')
				pf := true
				po.Visit(func(pk []byte, pv *fastjson.Value) {
					if !pf {
						dst = append(dst, ',')
					}
					pf = false
					dst = wire.AppendJSONString(dst, b2s(pk))
					dst = append(dst, ':')
					dst = appendOpenAPISchema(dst, pv)
				})
				dst = append(dst, '}')
			case key == "items" || key == "anyOf" || key == "additionalProperties":
				dst = appendOpenAPISchema(dst, vv)
			default:
				dst = appendValue(dst, vv)
			}
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, vv := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendOpenAPISchema(dst, vv)
		}
		return append(dst, ']')
	}
	return appendValue(dst, v)
}

func lower(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}
