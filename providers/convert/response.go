package convert

import (
	"fmt"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Response converts a non-stream upstream response body of protocol `from`
// into the client's protocol `to`, naming `model` (the model the client
// asked for). An error means the upstream body could not be understood.
func Response(from, to wire.Protocol, body []byte, model string) ([]byte, error) {
	var c Converter
	return c.Response(from, to, body, model)
}

// Response is the package-level Response using c's parser.
func (c *Converter) Response(from, to wire.Protocol, body []byte, model string) ([]byte, error) {
	return c.ResponseMapped(from, to, body, model, nil)
}

// ResponseMapped is Response for a request whose tools were renamed (the
// Converter's Tools after Request): calls go back to the client under the
// names it declared.
func (c *Converter) ResponseMapped(from, to wire.Protocol, body []byte, model string, tm *ToolMap) ([]byte, error) {
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, fmt.Errorf("convert response: upstream body is not JSON: %w", err)
	}
	root, err := c.parser(body).ParseBytes(body)
	if err != nil || root.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("convert response: upstream body is not a JSON object")
	}
	var r *response
	switch from {
	case wire.OpenAIChat:
		r, err = readChatResponse(root)
	case wire.OpenAIResponses:
		r, err = readResponsesResponse(root)
	case wire.Anthropic:
		r, err = readAnthropicResponse(root)
	case wire.Gemini:
		r, err = readGeminiResponse(root)
	default:
		return nil, fmt.Errorf("convert response: unknown source protocol %d", from)
	}
	if err != nil {
		return nil, fmt.Errorf("convert %s response: %w", from, err)
	}
	if len(r.choices) == 0 {
		r.choices = append(r.choices, choice{finish: finishStop})
	}
	dst := make([]byte, 0, len(body)+256)
	now := time.Now().Unix()
	switch to {
	case wire.OpenAIChat:
		return writeChatResponse(dst, r, model, now)
	case wire.OpenAIResponses:
		return writeResponsesResponse(dst, r, model, now, tm)
	case wire.Anthropic:
		return writeAnthropicResponse(dst, r, model)
	case wire.Gemini:
		return writeGeminiResponse(dst, r, model)
	}
	return nil, fmt.Errorf("convert response: unknown target protocol %d", to)
}

func readChatResponse(root *fastjson.Value) (*response, error) {
	r := &response{id: strS(root, "id"), usage: usageFromChat(root.Get("usage"))}
	chs, _ := arrayOf(root.Get("choices"))
	for i, c := range chs {
		m := c.Get("message")
		ch := choice{finish: finishFromChat(strS(c, "finish_reason"))}
		if m == nil {
			r.choices = append(r.choices, ch)
			continue
		}
		if t := strS(m, "reasoning_content"); t != "" {
			ch.parts = append(ch.parts, part{kind: partThinking, text: t})
		}
		if ct := m.Get("content"); ct != nil {
			t, err := contentText(ct, idx("choices", i)+".message.content", "text", "output_text")
			if err != nil {
				return nil, err
			}
			if t != "" {
				ch.parts = append(ch.parts, part{kind: partText, text: t})
			}
		}
		if t := strS(m, "refusal"); t != "" {
			ch.parts = append(ch.parts, part{kind: partText, text: t})
		}
		calls, _ := arrayOf(m.Get("tool_calls"))
		for j, tc := range calls {
			p := part{kind: partToolCall, id: strS(tc, "id")}
			fn := tc.Get("function")
			if fn == nil {
				return nil, fmt.Errorf("choices[%d].message.tool_calls[%d] has no function", i, j)
			}
			p.name = strS(fn, "name")
			var err error
			if p.args, err = objectArgs("arguments", strB(fn, "arguments")); err != nil {
				return nil, fmt.Errorf("choices[%d].message.tool_calls[%d]: %w", i, j, err)
			}
			ch.parts = append(ch.parts, p)
		}
		r.choices = append(r.choices, ch)
	}
	return r, nil
}

func readResponsesResponse(root *fastjson.Value) (*response, error) {
	r := &response{id: strS(root, "id"), usage: usageFromResponses(root.Get("usage"))}
	status := strS(root, "status")
	if status == "failed" {
		return nil, fmt.Errorf("upstream response failed: %s", strS(root.Get("error"), "message"))
	}
	ch := choice{}
	items, _ := arrayOf(root.Get("output"))
	for i, it := range items {
		switch strS(it, "type") {
		case "message":
			cs, _ := arrayOf(it.Get("content"))
			for _, c := range cs {
				if t := strS(c, "text") + strS(c, "refusal"); t != "" {
					ch.parts = append(ch.parts, part{kind: partText, text: t})
				}
			}
		case "function_call":
			p := part{kind: partToolCall, id: strS(it, "call_id"), name: strS(it, "name")}
			var err error
			if p.args, err = objectArgs("arguments", strB(it, "arguments")); err != nil {
				return nil, fmt.Errorf("output[%d]: %w", i, err)
			}
			ch.parts = append(ch.parts, p)
		case "reasoning":
			ss, _ := arrayOf(it.Get("summary"))
			for _, s := range ss {
				if t := strS(s, "text"); t != "" {
					ch.parts = append(ch.parts, part{kind: partThinking, text: t})
				}
			}
		}
	}
	ch.finish = finishFromResponses(status, strS(root.Get("incomplete_details"), "reason"), ch.hasToolCalls())
	r.choices = append(r.choices, ch)
	return r, nil
}

func readAnthropicResponse(root *fastjson.Value) (*response, error) {
	r := &response{id: strS(root, "id")}
	addAnthropicUsage(&r.usage, root.Get("usage"))
	ch := choice{finish: finishFromAnthropic(strS(root, "stop_reason")), stopSeq: strS(root, "stop_sequence")}
	blocks, _ := arrayOf(root.Get("content"))
	for _, b := range blocks {
		switch strS(b, "type") {
		case "text":
			ch.parts = append(ch.parts, part{kind: partText, text: strS(b, "text")})
		case "thinking":
			ch.parts = append(ch.parts, part{kind: partThinking, text: strS(b, "thinking"), data: strS(b, "signature")})
		case "tool_use":
			p := part{kind: partToolCall, id: strS(b, "id"), name: strS(b, "name"), args: []byte("{}")}
			if in := b.Get("input"); isType(in, fastjson.TypeObject) {
				p.args = appendValue(nil, in)
			}
			ch.parts = append(ch.parts, p)
		}
	}
	r.choices = append(r.choices, ch)
	return r, nil
}

func readGeminiResponse(root *fastjson.Value) (*response, error) {
	r := &response{id: strS(root, "responseId"), usage: usageFromGemini(root.Get("usageMetadata"))}
	base := []byte(r.id)
	if len(base) == 0 {
		base = []byte(newID(""))
	}
	calls := 0
	cands, _ := arrayOf(root.Get("candidates"))
	for _, c := range cands {
		ch := choice{}
		parts, _ := arrayOf(c.Get("content", "parts"))
		for _, p := range parts {
			switch {
			case p.Get("functionCall") != nil:
				fc := p.Get("functionCall")
				cp := part{kind: partToolCall, id: strS(fc, "id"), name: strS(fc, "name"), args: []byte("{}")}
				if cp.id == "" {
					cp.id = string(appendCallID(nil, base, calls))
				}
				calls++
				if a := fc.Get("args"); isType(a, fastjson.TypeObject) {
					cp.args = appendValue(nil, a)
				}
				ch.parts = append(ch.parts, cp)
			case p.Get("text") != nil:
				if isType(p.Get("thought"), fastjson.TypeTrue) {
					ch.parts = append(ch.parts, part{kind: partThinking, text: strS(p, "text"), data: strS(p, "thoughtSignature")})
				} else if t := strS(p, "text"); t != "" {
					ch.parts = append(ch.parts, part{kind: partText, text: t})
				}
			}
		}
		ch.finish = finishFromGemini(strS(c, "finishReason"), ch.hasToolCalls())
		r.choices = append(r.choices, ch)
	}
	if len(cands) == 0 && strS(root.Get("promptFeedback"), "blockReason") != "" {
		r.choices = append(r.choices, choice{finish: finishFilter})
	}
	return r, nil
}
