// Package tokencount counts a request's input tokens locally, for the
// count_tokens, countTokens and input_tokens endpoints when the upstream
// cannot count them itself (it speaks another protocol). The request is
// put in OpenAI Chat form (package convert) and counted the way OpenAI
// documents its own accounting: each message's fields through the BPE
// tokenizer plus a fixed overhead per message, per name and per reply,
// function definitions by their documented formula, and images by each
// vendor's published formula from their real dimensions where the request
// carries the bytes.
//
// For OpenAI models the text is counted with OpenAI's own tokenizer
// (o200k_base, cl100k_base for gpt-4 and gpt-3.5): on the fixtures OpenAI
// published with its API's counts the result is exact. Claude and Gemini
// tokenizers are not public; their text is counted with o200k_base, an
// approximation (the package README states the expected error).
package tokencount

import (
	"fmt"
	"strings"
	"sync"

	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/tiktoken-go/tokenizer/codec"
	"github.com/valyala/fastjson"
)

// Family says whose accounting a count follows: the protocol of the
// upstream that would serve the request.
type Family = wire.Protocol

// encoder is the BPE tokenizer of a model; the vocabularies are loaded on
// first use only (about 14 MB and 70 ms for o200k_base), so a proxy that
// never counts pays nothing.
type encoder interface {
	Count(string) (int, error)
}

var (
	o200kOnce, cl100kOnce sync.Once
	o200k, cl100k         encoder
)

// legacyOpenAI reports whether model is one of OpenAI's cl100k_base
// models (gpt-4, gpt-3.5), which also frame functions differently.
func legacyOpenAI(family Family, model string) bool {
	if family != wire.OpenAIChat && family != wire.OpenAIResponses {
		return false
	}
	m := strings.ToLower(model)
	return strings.HasPrefix(m, "gpt-4-") || m == "gpt-4" || strings.HasPrefix(m, "gpt-3.5") || strings.HasPrefix(m, "gpt-35")
}

func encoderFor(family Family, model string) encoder {
	if legacyOpenAI(family, model) {
		cl100kOnce.Do(func() { cl100k = codec.NewCl100kBase() })
		return cl100k
	}
	o200kOnce.Do(func() { o200k = codec.NewO200kBase() })
	return o200k
}

// The overheads of OpenAI's chat format, from its published accounting:
// every message is framed by 3 tokens, a name costs 1 more, and the reply
// is primed with 3.
const (
	perMessage = 3
	perName    = 1
	perReply   = 3
)

// Count returns the input tokens of body, a request of protocol in, as a
// model of family (named model) would count them.
func Count(in wire.Protocol, body []byte, family Family, model string) (int, error) {
	chat, err := chatForm(in, body)
	if err != nil {
		return 0, err
	}
	var p fastjson.Parser
	root, err := p.ParseBytes(chat)
	if err != nil {
		return 0, fmt.Errorf("tokencount: %w", err)
	}
	c := counter{enc: encoderFor(family, model), family: family, model: model, funcInit: funcInit}
	if legacyOpenAI(family, model) {
		c.funcInit = funcInitLegacy
	}
	msgs := array(root.Get("messages"))
	for _, m := range msgs {
		c.message(m)
	}
	c.n += perReply
	c.tools(root.Get("tools"))
	return c.n, c.err
}

// chatForm is body as an OpenAI Chat request. A Gemini countTokens body
// may wrap a whole generateContent request.
func chatForm(in wire.Protocol, body []byte) ([]byte, error) {
	if in == wire.OpenAIChat {
		return body, nil
	}
	if in == wire.Gemini {
		var p fastjson.Parser
		if v, err := p.ParseBytes(body); err == nil {
			if inner := v.Get("generateContentRequest"); inner != nil && inner.Type() == fastjson.TypeObject {
				body = inner.MarshalTo(nil)
			}
		}
	}
	return convert.Request(in, wire.OpenAIChat, body, "count", false)
}

type counter struct {
	enc      encoder
	family   Family
	model    string
	funcInit int
	n        int
	err      error
}

func (c *counter) text(s string) {
	if s == "" || c.err != nil {
		return
	}
	n, err := c.enc.Count(s)
	if err != nil {
		c.err = fmt.Errorf("tokencount: %w", err)
		return
	}
	c.n += n
}

// message counts one Chat message the way OpenAI frames it: the overhead,
// then every field's text (role, content, name, tool_call_id), then the
// calls an assistant made.
func (c *counter) message(m *fastjson.Value) {
	c.n += perMessage
	obj := object(m)
	if obj == nil {
		return
	}
	obj.Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "content":
			c.content(v)
		case "tool_calls":
			calls := array(v)
			for _, call := range calls {
				c.text(string(call.GetStringBytes("function", "name")))
				c.text(string(call.GetStringBytes("function", "arguments")))
			}
		default:
			if v.Type() == fastjson.TypeString {
				c.text(string(v.GetStringBytes()))
				if string(k) == "name" {
					c.n += perName
				}
			}
		}
	})
}

func (c *counter) content(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		c.text(string(v.GetStringBytes()))
	case fastjson.TypeArray:
		for _, p := range array(v) {
			switch string(p.GetStringBytes("type")) {
			case "text":
				c.text(string(p.GetStringBytes("text")))
			case "image_url":
				c.n += imageTokens(c.family, c.model, string(p.GetStringBytes("image_url", "url")),
					string(p.GetStringBytes("image_url", "detail")))
			}
		}
	}
}

// The function-definition overheads OpenAI published for its gpt-4o
// family: per function (10 for gpt-4 and gpt-3.5), per property list, per
// property, per enum and per enum item, and once for the whole tool block.
const (
	funcInit       = 7
	funcInitLegacy = 10
	propInit       = 3
	propKey        = 3
	enumInit       = -3
	enumItem       = 3
	funcEnd        = 12
)

// tools counts function definitions by OpenAI's published formula: the
// name and description, then each top-level property's name, type and
// description, and enum values.
func (c *counter) tools(v *fastjson.Value) {
	list := array(v)
	if len(list) == 0 {
		return
	}
	for _, t := range list {
		fn := t.Get("function")
		if fn == nil {
			continue
		}
		c.n += c.funcInit
		c.text(string(fn.GetStringBytes("name")) + ":" + strings.TrimSuffix(string(fn.GetStringBytes("description")), "."))
		props := object(fn.Get("parameters", "properties"))
		if props == nil || props.Len() == 0 {
			continue
		}
		c.n += propInit
		props.Visit(func(k []byte, p *fastjson.Value) {
			c.n += propKey
			if enum := array(p.Get("enum")); enum != nil {
				c.n += enumInit
				for _, e := range enum {
					c.n += enumItem
					c.text(string(e.GetStringBytes()))
				}
			}
			desc := strings.TrimSuffix(string(p.GetStringBytes("description")), ".")
			c.text(string(k) + ":" + string(p.GetStringBytes("type")) + ":" + desc)
		})
	}
	c.n += funcEnd
}

// array and object are v's elements and fields; nil when v is absent or of
// another type.
func array(v *fastjson.Value) []*fastjson.Value {
	if v == nil || v.Type() != fastjson.TypeArray {
		return nil
	}
	a, _ := v.Array()
	return a
}

func object(v *fastjson.Value) *fastjson.Object {
	if v == nil || v.Type() != fastjson.TypeObject {
		return nil
	}
	o, _ := v.Object()
	return o
}
