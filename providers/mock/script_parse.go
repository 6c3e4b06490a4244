package mock

import (
	"bytes"
	"strings"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// scriptFor reads the Script a request of proto asks for, or nil. The
// common case (no marker anywhere in the last turn, no schema) costs a
// scan of the last turn's text.
func scriptFor(proto wire.Protocol, root *fastjson.Value) *Script {
	var turns []*fastjson.Value
	switch proto {
	case wire.OpenAIChat:
		turns = root.GetArray("messages")
	case wire.OpenAIResponses:
		turns = root.GetArray("input")
	case wire.Anthropic:
		turns = root.GetArray("messages")
	case wire.Gemini:
		turns = root.GetArray("contents")
	}
	final := lastConversational(turns)
	if result, ok := toolResult(proto, final); ok {
		for _, t := range turns {
			if _, ok := marker(proto, t); ok {
				return &Script{Text: quote(result)}
			}
		}
		return nil
	}
	if m, ok := marker(proto, final); ok {
		if s := callFor(proto, root, m); s != nil {
			return s
		}
	}
	if schema, ok := outputSchema(proto, root); ok {
		return &Script{Text: string(appendInstance(nil, schema, 0))}
	}
	return nil
}

// lastConversational is the last turn that is not a system or developer
// instruction: Claude Code appends "system" turns after the user's prompt.
func lastConversational(turns []*fastjson.Value) *fastjson.Value {
	for i := len(turns) - 1; i >= 0; i-- {
		switch string(turns[i].GetStringBytes("role")) {
		case "system", "developer":
			continue
		}
		return turns[i]
	}
	return nil
}

// callFor answers marker m (`NAME {args}`) with a call of the declared
// tool it names; nil when no declared tool matches.
func callFor(proto wire.Protocol, root *fastjson.Value, m string) *Script {
	name, args, _ := strings.Cut(strings.TrimSpace(m), " ")
	args = strings.TrimSpace(args)
	if args == "" {
		args = "{}"
	}
	var p fastjson.Parser
	if v, err := p.Parse(args); err != nil || v.Type() != fastjson.TypeObject {
		return &Script{Text: "mock: the arguments of " + CallMarker(name, args) + " are not a JSON object"}
	}
	declared, custom := declaredTool(proto, root, name)
	if declared == "" {
		return nil
	}
	if custom {
		// A Responses custom (freeform) tool takes a string, not JSON:
		// the marker gives it as {"input":"..."}.
		v, _ := p.Parse(args)
		return &Script{Custom: true, Call: &ToolCall{ID: scriptCallID, Name: declared, Arguments: string(v.GetStringBytes("input"))}}
	}
	return &Script{Call: &ToolCall{ID: scriptCallID, Name: declared, Arguments: args}}
}

// declaredTool returns the name of the declared tool that want names:
// want itself, or a name ending in want after a separator; custom reports
// a Responses custom (freeform) tool.
func declaredTool(proto wire.Protocol, root *fastjson.Value, want string) (found string, custom bool) {
	match := func(name []byte, typ []byte) {
		n := string(name)
		switch {
		case found != "":
			return
		case n == want:
		case len(n) > len(want) && strings.HasSuffix(n, want) && !isIdentByte(n[len(n)-len(want)-1]):
		default:
			return
		}
		found, custom = n, string(typ) == "custom"
	}
	var walk func(tools []*fastjson.Value)
	walk = func(tools []*fastjson.Value) {
		for _, t := range tools {
			switch proto {
			case wire.OpenAIChat:
				match(t.GetStringBytes("function", "name"), nil)
			case wire.Gemini:
				for _, f := range append(t.GetArray("functionDeclarations"), t.GetArray("function_declarations")...) {
					match(f.GetStringBytes("name"), nil)
				}
			default:
				if proto == wire.OpenAIResponses {
					match(t.GetStringBytes("name"), t.GetStringBytes("type"))
				} else {
					match(t.GetStringBytes("name"), nil)
				}
				walk(t.GetArray("tools")) // a Responses namespace
			}
		}
	}
	walk(root.GetArray("tools"))
	if proto == wire.OpenAIResponses {
		// Codex declares tools in an input item of its own.
		for _, it := range root.GetArray("input") {
			if string(it.GetStringBytes("type")) == "additional_tools" {
				walk(it.GetArray("tools"))
			}
		}
	}
	return found, custom
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// marker returns what follows the call marker in a user turn's text.
func marker(proto wire.Protocol, turn *fastjson.Value) (string, bool) {
	if turn == nil {
		return "", false
	}
	role := turn.GetStringBytes("role")
	if proto == wire.Gemini {
		if len(role) > 0 && string(role) != "user" {
			return "", false
		}
		for _, p := range turn.GetArray("parts") {
			if m, ok := markerIn(p.Get("text")); ok {
				return m, true
			}
		}
		return "", false
	}
	if string(role) != "user" {
		return "", false
	}
	c := turn.Get("content")
	if c == nil || c.Type() != fastjson.TypeArray {
		return markerIn(c)
	}
	for _, p := range c.GetArray() {
		if m, ok := markerIn(p.Get("text")); ok {
			return m, true
		}
	}
	return "", false
}

// markerIn returns what follows the call marker in a string value.
func markerIn(t *fastjson.Value) (string, bool) {
	if t == nil || t.Type() != fastjson.TypeString {
		return "", false
	}
	s := t.GetStringBytes()
	i := bytes.Index(s, []byte(markerOpen))
	if i < 0 {
		return "", false
	}
	rest := s[i+len(markerOpen):]
	j := bytes.Index(rest, []byte(markerClose))
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// toolResult returns the text of the tool result that turn is, if it is one.
func toolResult(proto wire.Protocol, turn *fastjson.Value) (string, bool) {
	if turn == nil {
		return "", false
	}
	switch proto {
	case wire.OpenAIChat:
		if string(turn.GetStringBytes("role")) == "tool" {
			return textOf(turn.Get("content")), true
		}
	case wire.OpenAIResponses:
		switch string(turn.GetStringBytes("type")) {
		case "function_call_output", "custom_tool_call_output":
			return textOf(turn.Get("output")), true
		}
	case wire.Anthropic:
		if string(turn.GetStringBytes("role")) != "user" {
			break
		}
		for _, b := range turn.GetArray("content") {
			if string(b.GetStringBytes("type")) == "tool_result" {
				return textOf(b.Get("content")), true
			}
		}
	case wire.Gemini:
		for _, p := range turn.GetArray("parts") {
			r := p.Get("functionResponse")
			if r == nil {
				r = p.Get("function_response")
			}
			if r != nil {
				return string(appendCompact(nil, r.Get("response"))), true
			}
		}
	}
	return "", false
}

// textOf is a string value, or the text parts of an array joined.
func textOf(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	if v.Type() == fastjson.TypeString {
		return string(v.GetStringBytes())
	}
	var b []byte
	for _, p := range v.GetArray() {
		if t := p.GetStringBytes("text"); len(t) > 0 {
			if len(b) > 0 {
				b = append(b, '\n')
			}
			b = append(b, t...)
		}
	}
	return string(b)
}

func appendCompact(dst []byte, v *fastjson.Value) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return v.MarshalTo(dst)
}
