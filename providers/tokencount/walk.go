package tokencount

import (
	"github.com/valyala/fastjson"
)

// chat walks an OpenAI Chat Completions body. As OpenAI's cookbook counts
// it: every value of a message (role, content, name) is text, a name costs
// one more token, and tool calls are their names and argument strings.
func (t *tally) chat(v *fastjson.Value) {
	for _, m := range v.GetArray("messages") {
		t.message(m.GetStringBytes("role"))
		if name := m.Get("name"); name != nil {
			t.str(name)
			t.fixed += t.frame.perName
		}
		t.chatContent(m.Get("content"))
		for _, c := range m.GetArray("tool_calls") {
			t.str(c.Get("function", "name"))
			t.str(c.Get("function", "arguments"))
		}
	}
	for _, tool := range v.GetArray("tools") {
		fn := tool.Get("function")
		t.function(fn.GetStringBytes("name"), fn.GetStringBytes("description"), fn.Get("parameters"))
	}
	t.replyPrimer()
}

func (t *tally) chatContent(c *fastjson.Value) {
	if c == nil || c.Type() != fastjson.TypeArray {
		t.str(c)
		return
	}
	for _, part := range c.GetArray() {
		switch string(part.GetStringBytes("type")) {
		case "image_url":
			t.image(dataURL(part.GetStringBytes("image_url", "url")), string(part.GetStringBytes("image_url", "detail")) == "low")
		default:
			t.str(part.Get("text"))
		}
	}
}

// responses walks an OpenAI Responses body: instructions are a system
// message, input a string or a list of items.
func (t *tally) responses(v *fastjson.Value) {
	if ins := v.Get("instructions"); ins != nil {
		t.message([]byte("system"))
		t.str(ins)
	}
	in := v.Get("input")
	if in != nil && in.Type() == fastjson.TypeString {
		t.message([]byte("user"))
		t.str(in)
	}
	for _, item := range v.GetArray("input") {
		switch string(item.GetStringBytes("type")) {
		case "function_call", "custom_tool_call":
			t.message([]byte("assistant"))
			t.str(item.Get("name"))
			t.str(item.Get("arguments"))
			t.str(item.Get("input"))
		case "function_call_output", "custom_tool_call_output":
			t.message([]byte("tool"))
			t.responsesContent(item.Get("output"))
		case "reasoning":
			for _, s := range item.GetArray("summary") {
				t.str(s.Get("text"))
			}
		default: // a message, with or without "type":"message"
			t.message(item.GetStringBytes("role"))
			t.responsesContent(item.Get("content"))
		}
	}
	for _, tool := range v.GetArray("tools") {
		if string(tool.GetStringBytes("type")) == "function" {
			t.function(tool.GetStringBytes("name"), tool.GetStringBytes("description"), tool.Get("parameters"))
			continue
		}
		// Hosted tools (web_search, ...) are described by the platform;
		// their name is what is known of them here.
		t.str(tool.Get("type"))
	}
	t.replyPrimer()
}

func (t *tally) responsesContent(c *fastjson.Value) {
	if c == nil || c.Type() != fastjson.TypeArray {
		t.str(c)
		return
	}
	for _, part := range c.GetArray() {
		switch string(part.GetStringBytes("type")) {
		case "input_image":
			t.image(dataURL(part.GetStringBytes("image_url")), string(part.GetStringBytes("detail")) == "low")
		default:
			t.str(part.Get("text"))
		}
	}
}

// anthropic walks a Messages body: system, messages with their blocks
// (text, images, tool use and results, thinking) and tools.
func (t *tally) anthropic(v *fastjson.Value) {
	if sys := v.Get("system"); sys != nil {
		t.message([]byte("system"))
		t.anthropicContent(sys)
	}
	for _, m := range v.GetArray("messages") {
		t.message(m.GetStringBytes("role"))
		t.anthropicContent(m.Get("content"))
	}
	for _, tool := range v.GetArray("tools") {
		if tool.Get("input_schema") == nil {
			// A server tool (web_search, bash, ...): its definition is
			// Anthropic's; count its name.
			t.str(tool.Get("name"))
			continue
		}
		t.function(tool.GetStringBytes("name"), tool.GetStringBytes("description"), tool.Get("input_schema"))
	}
	t.replyPrimer()
}

func (t *tally) anthropicContent(c *fastjson.Value) {
	if c == nil || c.Type() != fastjson.TypeArray {
		t.str(c)
		return
	}
	for _, b := range c.GetArray() {
		switch string(b.GetStringBytes("type")) {
		case "image":
			var data []byte
			if string(b.GetStringBytes("source", "type")) == "base64" {
				data = b.GetStringBytes("source", "data")
			}
			t.image(data, false)
		case "tool_use", "server_tool_use":
			t.str(b.Get("name"))
			t.raw(b.Get("input"))
		case "tool_result":
			t.anthropicContent(b.Get("content"))
		case "thinking":
			// Anthropic's guide says thinking of earlier turns is not
			// counted, yet its own example (claude_thinking.json, 88)
			// is met only with that thinking counted; counting it errs
			// on the high side, which is the safe side for a budget.
			t.str(b.Get("thinking"))
		case "redacted_thinking":
		case "document":
			if string(b.GetStringBytes("source", "type")) == "text" {
				t.str(b.Get("source", "data"))
			}
			t.anthropicContent(b.Get("source", "content"))
		default:
			t.str(b.Get("text"))
		}
	}
}

// gemini walks a generateContent or countTokens body; countTokens may wrap
// the request in generateContentRequest. Field names come in both the
// proto (snake_case) and JSON (camelCase) spellings.
func (t *tally) gemini(v *fastjson.Value) {
	if g := v.Get("generateContentRequest"); g != nil {
		v = g
	}
	if sys := either(v, "systemInstruction", "system_instruction"); sys != nil {
		t.message([]byte("system"))
		t.geminiParts(sys)
	}
	for _, c := range v.GetArray("contents") {
		t.message(c.GetStringBytes("role"))
		t.geminiParts(c)
	}
	for _, tool := range v.GetArray("tools") {
		decls := either(tool, "functionDeclarations", "function_declarations")
		for _, d := range decls.GetArray() {
			params := either(d, "parameters", "parametersJsonSchema")
			if params == nil {
				params = d.Get("parameters_json_schema")
			}
			t.function(d.GetStringBytes("name"), d.GetStringBytes("description"), params)
		}
	}
	t.replyPrimer()
}

func (t *tally) geminiParts(c *fastjson.Value) {
	for _, p := range c.GetArray("parts") {
		switch {
		case p.Get("text") != nil:
			t.str(p.Get("text"))
		case either(p, "inlineData", "inline_data") != nil:
			d := either(p, "inlineData", "inline_data")
			t.image(d.GetStringBytes("data"), false)
		case either(p, "fileData", "file_data") != nil:
			t.image(nil, false)
		case either(p, "functionCall", "function_call") != nil:
			fc := either(p, "functionCall", "function_call")
			t.str(fc.Get("name"))
			t.raw(fc.Get("args"))
		case either(p, "functionResponse", "function_response") != nil:
			fr := either(p, "functionResponse", "function_response")
			t.str(fr.Get("name"))
			t.raw(fr.Get("response"))
		}
	}
}

func either(v *fastjson.Value, a, b string) *fastjson.Value {
	if x := v.Get(a); x != nil {
		return x
	}
	return v.Get(b)
}

// dataURL returns the payload of a data: URL, nil for a link.
func dataURL(u []byte) []byte {
	if len(u) > 5 && string(u[:5]) == "data:" {
		return u
	}
	return nil
}
