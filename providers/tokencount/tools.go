package tokencount

import (
	"bytes"

	"github.com/valyala/fastjson"
)

// Tool framing. OpenAI's cookbook (How_to_count_tokens_with_tiktoken,
// num_tokens_for_tools, gpt-4o values) reproduces the API's prompt_tokens
// for function tools with these constants.
const (
	oaFuncInit = 7
	oaPropInit = 3
	oaPropKey  = 3
	oaEnumInit = -3
	oaEnumItem = 3
	oaFuncEnd  = 12
	// Anthropic's tool-use guide: a request with tools carries a system
	// prompt of 346 tokens (tool_choice auto or none, Claude 4 models).
	claudeToolSystem = 346
)

// toolsFraming is the fixed cost of offering any function tool.
func (f Family) toolsFraming() int {
	switch f {
	case OpenAI:
		return oaFuncEnd
	case Claude:
		return claudeToolSystem
	}
	return 0
}

// function adds one function tool declaration.
func (t *tally) function(name, desc []byte, params *fastjson.Value) {
	t.tools++
	if t.family != OpenAI {
		t.count(name)
		t.count(desc)
		t.raw(params)
		return
	}
	// OpenAI renders "name:description" (without a final period), then
	// one "key:type:description" line per top-level property.
	t.fixed += oaFuncInit
	t.scratch = append(append(append(t.scratch[:0], name...), ':'), bytes.TrimSuffix(desc, []byte("."))...)
	t.count(t.scratch)
	props := params.GetObject("properties")
	if props == nil || props.Len() == 0 {
		return
	}
	t.fixed += oaPropInit
	props.Visit(func(key []byte, p *fastjson.Value) {
		t.fixed += oaPropKey
		if enum := p.GetArray("enum"); enum != nil {
			t.fixed += oaEnumInit
			for _, e := range enum {
				t.fixed += oaEnumItem
				t.str(e)
			}
		}
		b := append(t.scratch[:0], key...)
		b = append(append(b, ':'), p.GetStringBytes("type")...)
		b = append(append(b, ':'), bytes.TrimSuffix(p.GetStringBytes("description"), []byte("."))...)
		t.scratch = b
		t.count(b)
	})
}
