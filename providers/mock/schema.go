package mock

import (
	"strings"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// outputSchema returns the JSON schema of a structured-output request in
// proto's field for it; ok with a nil schema for plain JSON mode.
func outputSchema(proto wire.Protocol, root *fastjson.Value) (*fastjson.Value, bool) {
	switch proto {
	case wire.OpenAIChat:
		switch string(root.GetStringBytes("response_format", "type")) {
		case "json_schema":
			return root.Get("response_format", "json_schema", "schema"), true
		case "json_object":
			return nil, true
		}
	case wire.OpenAIResponses:
		switch string(root.GetStringBytes("text", "format", "type")) {
		case "json_schema":
			return root.Get("text", "format", "schema"), true
		case "json_object":
			return nil, true
		}
	case wire.Anthropic:
		for _, f := range []*fastjson.Value{root.Get("output_format"), root.Get("output_config", "format")} {
			if f != nil && string(f.GetStringBytes("type")) == "json_schema" {
				return f.Get("schema"), true
			}
		}
	case wire.Gemini:
		g := root.Get("generationConfig")
		if g == nil {
			g = root.Get("generation_config")
		}
		if g == nil {
			return nil, false
		}
		for _, k := range []string{"responseJsonSchema", "response_json_schema", "responseSchema", "response_schema"} {
			if s := g.Get(k); s != nil {
				return s, true
			}
		}
		for _, k := range []string{"responseMimeType", "response_mime_type"} {
			if string(g.GetStringBytes(k)) == "application/json" {
				return nil, true
			}
		}
	}
	return nil, false
}

// maxSchemaDepth bounds the recursion over a client's schema.
const maxSchemaDepth = 16

// appendInstance appends the smallest JSON value schema accepts: objects
// with their required properties (all listed ones when none is marked
// required), the first enum or const value, a number's minimum, "mock" for
// strings, empty arrays. Type names are read in either case (Gemini's
// schemas say "OBJECT").
func appendInstance(dst []byte, schema *fastjson.Value, depth int) []byte {
	if schema == nil || depth > maxSchemaDepth {
		return append(dst, "{}"...)
	}
	if c := schema.Get("const"); c != nil {
		return c.MarshalTo(dst)
	}
	if e := schema.GetArray("enum"); len(e) > 0 {
		return e[0].MarshalTo(dst)
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts := schema.GetArray(k); len(alts) > 0 {
			return appendInstance(dst, alts[0], depth+1)
		}
	}
	typ := schema.Get("type")
	t := ""
	if typ != nil && typ.Type() == fastjson.TypeArray && len(typ.GetArray()) > 0 {
		t = string(typ.GetArray()[0].GetStringBytes())
	} else {
		t = string(schema.GetStringBytes("type"))
	}
	switch strings.ToLower(t) {
	case "string":
		return append(dst, `"mock"`...)
	case "integer", "number":
		if m := schema.Get("minimum"); m != nil && m.Type() == fastjson.TypeNumber {
			return m.MarshalTo(dst)
		}
		return append(dst, '1')
	case "boolean":
		return append(dst, "false"...)
	case "array":
		return append(dst, "[]"...)
	case "null":
		return append(dst, "null"...)
	}
	return appendObjectInstance(dst, schema, depth)
}

func appendObjectInstance(dst []byte, schema *fastjson.Value, depth int) []byte {
	props := schema.GetObject("properties")
	dst = append(dst, '{')
	if props == nil {
		return append(dst, '}')
	}
	required := map[string]bool{}
	for _, r := range schema.GetArray("required") {
		required[string(r.GetStringBytes())] = true
	}
	n := 0
	props.Visit(func(k []byte, v *fastjson.Value) {
		if len(required) > 0 && !required[string(k)] {
			return
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = wire.AppendJSONString(dst, string(k))
		dst = append(dst, ':')
		dst = appendInstance(dst, v, depth+1)
	})
	return append(dst, '}')
}
