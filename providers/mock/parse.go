package mock

import (
	"bytes"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// The mock reads each protocol's request natively, not through the proxy's
// converter, so that a conversion bug shows up as a wrong answer instead of
// being mirrored by the upstream it is tested against.

// toolTrigger is the word in the last user message that makes ToolsAuto
// answer with tool calls.
var toolTrigger = []byte("weather")

// ParseRequest reads a request body of protocol proto with p (which the
// caller owns). For Gemini, whose model and stream flag are in the URL, the
// caller fills Model and Stream. Usage is always reported: every protocol
// but OpenAI Chat sends it unasked.
func ParseRequest(p *fastjson.Parser, proto wire.Protocol, body []byte) (Parsed, error) {
	if proto == wire.OpenAIChat {
		return ParseChat(p, body)
	}
	v, err := p.ParseBytes(body)
	if err != nil {
		return Parsed{}, err
	}
	out := Parsed{
		Model:        string(v.GetStringBytes("model")),
		Stream:       v.GetBool("stream"),
		IncludeUsage: true,
		PromptTokens: len(body)/4 + 1,
	}
	switch proto {
	case wire.OpenAIResponses:
		if len(v.GetArray("tools")) > 0 {
			out.AsksTools = responsesAsksTools(v.Get("input"))
		}
	case wire.Anthropic:
		if len(v.GetArray("tools")) > 0 {
			out.AsksTools = anthropicAsksTools(v.GetArray("messages"))
		}
	case wire.Gemini:
		out.Model, out.Stream = "", false
		if geminiDeclaresTools(v.GetArray("tools")) {
			out.AsksTools = geminiAsksTools(v.GetArray("contents"))
		}
	}
	out.Script = scriptFor(proto, v)
	return out, nil
}

// mentions reports whether a string value or an array of text parts
// contains the trigger word.
func mentions(content *fastjson.Value, textType string) bool {
	if content == nil {
		return false
	}
	if content.Type() == fastjson.TypeString {
		return bytes.Contains(content.GetStringBytes(), toolTrigger)
	}
	for _, part := range content.GetArray() {
		if textType != "" && string(part.GetStringBytes("type")) != textType {
			continue
		}
		if bytes.Contains(part.GetStringBytes("text"), toolTrigger) {
			return true
		}
	}
	return false
}

func last(a []*fastjson.Value) *fastjson.Value {
	if len(a) == 0 {
		return nil
	}
	return a[len(a)-1]
}

func chatAsksTools(messages []*fastjson.Value) bool {
	m := last(messages)
	return m != nil && string(m.GetStringBytes("role")) == "user" && mentions(m.Get("content"), "text")
}

func responsesAsksTools(input *fastjson.Value) bool {
	if input == nil {
		return false
	}
	if input.Type() == fastjson.TypeString {
		return bytes.Contains(input.GetStringBytes(), toolTrigger)
	}
	m := last(input.GetArray())
	if m == nil || string(m.GetStringBytes("role")) != "user" {
		return false // a function_call_output, or an assistant turn
	}
	return mentions(m.Get("content"), "input_text")
}

func anthropicAsksTools(messages []*fastjson.Value) bool {
	m := last(messages)
	if m == nil || string(m.GetStringBytes("role")) != "user" {
		return false
	}
	for _, b := range m.GetArray("content") {
		if string(b.GetStringBytes("type")) == "tool_result" {
			return false
		}
	}
	return mentions(m.Get("content"), "text")
}

func geminiDeclaresTools(tools []*fastjson.Value) bool {
	for _, t := range tools {
		if len(t.GetArray("functionDeclarations")) > 0 || len(t.GetArray("function_declarations")) > 0 {
			return true
		}
	}
	return false
}

func geminiAsksTools(contents []*fastjson.Value) bool {
	c := last(contents)
	if c == nil {
		return false
	}
	if r := c.GetStringBytes("role"); len(r) > 0 && string(r) != "user" {
		return false
	}
	for _, p := range c.GetArray("parts") {
		if p.Get("functionResponse") != nil || p.Get("function_response") != nil {
			return false
		}
	}
	return mentions(c.Get("parts"), "")
}
