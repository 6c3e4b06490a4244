// Package sysprompt applies an operator's system prompt to requests of any
// ingress protocol, where that protocol keeps its system prompt: OpenAI
// Chat's system/developer messages, the Responses API's instructions,
// Anthropic's top-level system, Gemini's systemInstruction. Only that part
// of the body is rewritten; everything else is kept byte for byte.
package sysprompt

import (
	"errors"
	"fmt"

	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Mode says how the operator's prompt combines with the client's.
type Mode uint8

const (
	// Append adds the operator's prompt after the client's system prompt
	// (or makes it the system prompt when the client sent none).
	Append Mode = iota
	// Overwrite replaces whatever system prompt the client sent.
	Overwrite
)

// ParseMode reads "append" or "overwrite".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "append", "":
		return Append, nil
	case "overwrite":
		return Overwrite, nil
	}
	return 0, fmt.Errorf("system prompt mode %q: want append or overwrite", s)
}

// Apply returns body with text applied as the system prompt of protocol p.
// dst is reused for the result.
func Apply(dst []byte, p wire.Protocol, body []byte, text string, mode Mode) ([]byte, error) {
	var parser fastjson.Parser
	v, err := parser.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("system prompt: request body: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("system prompt: request body is not a JSON object")
	}
	switch p {
	case wire.OpenAIChat:
		return chat(dst, body, v, text, mode)
	case wire.OpenAIResponses:
		return stringField(dst, body, v, "instructions", text, mode)
	case wire.Anthropic:
		return anthropic(dst, body, v, text, mode)
	case wire.Gemini:
		return gemini(dst, body, v, text, mode)
	}
	return nil, fmt.Errorf("system prompt: unknown protocol %v", p)
}

// joined is the client's prompt followed by the operator's.
func joined(client, text string, mode Mode) string {
	if mode == Overwrite || client == "" {
		return text
	}
	return client + "\n\n" + text
}

// chat rewrites the messages array: in overwrite mode every system and
// developer message goes and one system message leads; in append mode a
// system message carrying the operator's text follows the client's leading
// system messages (so that both are kept, in order).
func chat(dst, body []byte, v *fastjson.Value, text string, mode Mode) ([]byte, error) {
	mv := v.Get("messages")
	if mv == nil || mv.Type() != fastjson.TypeArray {
		return nil, errors.New("system prompt: messages is not an array")
	}
	msgs, err := mv.Array()
	if err != nil {
		return nil, errors.New("system prompt: messages is not an array")
	}
	out := []byte{'['}
	sys := wire.AppendJSONString([]byte(`{"role":"system","content":`), text)
	sys = append(sys, '}')
	inserted := false
	n := 0
	add := func(b []byte) {
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
		n++
	}
	for _, m := range msgs {
		role := string(m.GetStringBytes("role"))
		isSystem := role == "system" || role == "developer"
		if mode == Overwrite && isSystem {
			continue
		}
		if !inserted && !isSystem {
			add(sys)
			inserted = true
		}
		add(m.MarshalTo(nil))
	}
	if !inserted {
		add(sys)
	}
	out = append(out, ']')
	return jsonpatch.Replace(dst, body, "messages", out)
}

// stringField sets a string-valued top-level field.
func stringField(dst, body []byte, v *fastjson.Value, key, text string, mode Mode) ([]byte, error) {
	client := string(v.GetStringBytes(key))
	return jsonpatch.Replace(dst, body, key, wire.AppendJSONString(nil, joined(client, text, mode)))
}

// anthropic sets "system", which is a string or an array of text blocks.
// In overwrite mode the "system" turns a client may put inside messages
// (Claude Code does) go too: they would otherwise carry a prompt past it.
func anthropic(dst, body []byte, v *fastjson.Value, text string, mode Mode) ([]byte, error) {
	if mode == Overwrite {
		if kept, dropped := withoutSystemTurns(v.Get("messages")); dropped {
			var err error
			if body, err = jsonpatch.Replace(nil, body, "messages", kept); err != nil {
				return nil, err
			}
			var parser fastjson.Parser
			if v, err = parser.ParseBytes(body); err != nil {
				return nil, err
			}
		}
	}
	sys := v.Get("system")
	if sys == nil || sys.Type() == fastjson.TypeString || mode == Overwrite {
		client := ""
		if sys != nil && sys.Type() == fastjson.TypeString {
			client = string(sys.GetStringBytes())
		}
		return jsonpatch.Replace(dst, body, "system", wire.AppendJSONString(nil, joined(client, text, mode)))
	}
	blocks, err := sys.Array()
	if err != nil {
		return nil, errors.New("system prompt: system is neither a string nor an array")
	}
	out := []byte{'['}
	for _, b := range blocks {
		out = b.MarshalTo(out)
		out = append(out, ',')
	}
	out = append(out, `{"type":"text","text":`...)
	out = wire.AppendJSONString(out, text)
	out = append(out, "}]"...)
	return jsonpatch.Replace(dst, body, "system", out)
}

// gemini sets systemInstruction.parts (also accepting system_instruction).
func gemini(dst, body []byte, v *fastjson.Value, text string, mode Mode) ([]byte, error) {
	key := "systemInstruction"
	si := v.Get(key)
	if si == nil {
		if si = v.Get("system_instruction"); si != nil {
			key = "system_instruction"
		}
	}
	out := []byte(`{"parts":[`)
	if si != nil && mode == Append {
		for _, p := range si.GetArray("parts") {
			out = p.MarshalTo(out)
			out = append(out, ',')
		}
	}
	out = append(out, `{"text":`...)
	out = wire.AppendJSONString(out, text)
	out = append(out, "}]}"...)
	return jsonpatch.Replace(dst, body, key, out)
}

// withoutSystemTurns renders an Anthropic messages array without its
// "system" turns; dropped reports whether there were any.
func withoutSystemTurns(msgs *fastjson.Value) (kept []byte, dropped bool) {
	arr, err := msgs.Array()
	if err != nil {
		return nil, false
	}
	kept = append(kept, '[')
	n := 0
	for _, m := range arr {
		if string(m.GetStringBytes("role")) == "system" {
			dropped = true
			continue
		}
		if n > 0 {
			kept = append(kept, ',')
		}
		kept = m.MarshalTo(kept)
		n++
	}
	return append(kept, ']'), dropped
}
