package convert

import (
	"strconv"

	"github.com/llmproxy/proxy/providers/wire"
)

func orID(id, prefix string) string {
	if id == "" {
		return newID(prefix)
	}
	return id
}

func writeChatResponse(dst []byte, r *response, model string, now int64) ([]byte, error) {
	dst = appendStrField(append(dst, '{'), "id", orID(r.id, "chatcmpl-"))
	dst = append(dst, `,"object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, now, 10)
	dst = appendStrField(dst, "model", model)
	dst = append(dst, `,"choices":[`...)
	for i := range r.choices {
		c := &r.choices[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendInt(append(dst, `{"index":`...), i)
		dst = append(dst, `,"message":{"role":"assistant","content":`...)
		text := ""
		for j := range c.parts {
			if c.parts[j].kind == partText {
				text += c.parts[j].text
			}
		}
		if text == "" {
			dst = append(dst, "null"...)
		} else {
			dst = wire.AppendJSONString(dst, text)
		}
		dst = append(dst, `,"refusal":null`...)
		n := 0
		for j := range c.parts {
			p := &c.parts[j]
			if p.kind != partToolCall {
				continue
			}
			if n == 0 {
				dst = append(dst, `,"tool_calls":[`...)
			} else {
				dst = append(dst, ',')
			}
			n++
			dst = wire.AppendJSONString(append(dst, `{"id":`...), p.id)
			dst = wire.AppendJSONString(append(dst, `,"type":"function","function":{"name":`...), p.name)
			dst = wire.AppendJSONString(append(dst, `,"arguments":`...), b2s(p.args))
			dst = append(dst, "}}"...)
		}
		if n > 0 {
			dst = append(dst, ']')
		}
		dst = append(dst, `},"logprobs":null,"finish_reason":`...)
		dst = wire.AppendJSONString(dst, c.finish.chat())
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if r.usage.known {
		dst = appendChatUsage(append(dst, `,"usage":`...), &r.usage)
	}
	return append(dst, '}'), nil
}

func writeAnthropicResponse(dst []byte, r *response, model string) ([]byte, error) {
	c := &r.choices[0]
	dst = appendStrField(append(dst, '{'), "id", orID(r.id, "msg_"))
	dst = append(dst, `,"type":"message","role":"assistant"`...)
	dst = appendStrField(dst, "model", model)
	dst = append(dst, `,"content":[`...)
	n := 0
	for j := range c.parts {
		p := &c.parts[j]
		if p.kind == partText && p.text == "" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		switch p.kind {
		case partThinking:
			dst = wire.AppendJSONString(append(dst, `{"type":"thinking","thinking":`...), p.text)
			dst = append(appendStrField(dst, "signature", p.data), '}')
		default:
			dst = appendAnthropicBlock(dst, p)
		}
	}
	dst = append(dst, `],"stop_reason":`...)
	dst = wire.AppendJSONString(dst, c.finish.anthropic(c.stopSeq))
	dst = append(dst, `,"stop_sequence":`...)
	if c.stopSeq == "" {
		dst = append(dst, "null"...)
	} else {
		dst = wire.AppendJSONString(dst, c.stopSeq)
	}
	dst = appendAnthropicUsage(append(dst, `,"usage":`...), &r.usage)
	return append(dst, '}'), nil
}

func writeResponsesResponse(dst []byte, r *response, model string, now int64, tm *ToolMap) ([]byte, error) {
	c := &r.choices[0]
	id := orID(r.id, "resp_")
	status, reason := c.finish.responses()
	dst = appendStrField(append(dst, '{'), "id", id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, now, 10)
	dst = appendStrField(dst, "status", status)
	dst = append(dst, `,"error":null,"incomplete_details":`...)
	if reason == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(appendStrField(append(dst, '{'), "reason", reason), '}')
	}
	dst = appendStrField(dst, "model", model)
	dst = append(dst, `,"output":[`...)
	dst = appendResponsesOutput(dst, c, id, tm)
	dst = append(dst, `],"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"store":false`...)
	if r.usage.known {
		dst = appendResponsesUsage(append(dst, `,"usage":`...), &r.usage)
	}
	return append(dst, '}'), nil
}

// appendResponsesOutput writes a choice as Responses output items: all
// thinking as one reasoning item, all text as one message, each call its own
// function_call item, in the order they first appear.
func appendResponsesOutput(dst []byte, c *choice, id string, tm *ToolMap) []byte {
	n := -1 // output index of the item being written
	item := func() {
		if n >= 0 {
			dst = append(dst, ',')
		}
		n++
	}
	doneThinking, doneText := false, false
	for j := range c.parts {
		p := &c.parts[j]
		switch p.kind {
		case partThinking:
			if doneThinking {
				continue
			}
			doneThinking = true
			item()
			dst = appendItemID(append(dst, `{"id":`...), "rs_", id, n)
			dst = append(dst, `,"type":"reasoning","summary":[`...)
			k := 0
			for x := range c.parts {
				if q := &c.parts[x]; q.kind == partThinking {
					if k > 0 {
						dst = append(dst, ',')
					}
					k++
					dst = wire.AppendJSONString(append(dst, `{"type":"summary_text","text":`...), q.text)
					dst = append(dst, '}')
				}
			}
			dst = append(dst, "]}"...)
		case partText:
			if doneText {
				continue
			}
			doneText = true
			item()
			text := ""
			for x := range c.parts {
				if c.parts[x].kind == partText {
					text += c.parts[x].text
				}
			}
			dst = appendItemID(append(dst, `{"id":`...), "msg_", id, n)
			dst = append(dst, `,"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":`...)
			dst = wire.AppendJSONString(dst, text)
			dst = append(dst, `,"annotations":[]}]}`...)
		case partToolCall:
			item()
			dst = appendItemID(append(dst, `{"id":`...), "fc_", id, n)
			dst = appendCallItem(dst, "completed", p.id, p.name, p.args, tm)
		}
	}
	return dst
}

// appendItemID derives an output item id from the response id so ids are
// unique across responses and stable within one.
func appendItemID(dst []byte, prefix, respID string, n int) []byte {
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	for i := 0; i < len(respID); i++ {
		if c := respID[i]; c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' {
			dst = append(dst, c)
		}
	}
	dst = append(dst, '_')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '"')
}

func writeGeminiResponse(dst []byte, r *response, model string) ([]byte, error) {
	dst = append(dst, `{"candidates":[`...)
	for i := range r.choices {
		c := &r.choices[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"content":{"role":"model","parts":[`...)
		n := 0
		for j := range c.parts {
			p := &c.parts[j]
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			switch p.kind {
			case partThinking:
				dst = wire.AppendJSONString(append(dst, `{"text":`...), p.text)
				dst = append(dst, `,"thought":true}`...)
			case partToolCall:
				dst = wire.AppendJSONString(append(dst, `{"functionCall":{"id":`...), p.id)
				dst = appendStrField(dst, "name", p.name)
				dst = append(append(appendKey(dst, "args"), p.args...), "}}"...)
			default:
				dst = wire.AppendJSONString(append(dst, `{"text":`...), p.text)
				dst = append(dst, '}')
			}
		}
		dst = append(dst, `]},"finishReason":`...)
		dst = wire.AppendJSONString(dst, c.finish.gemini())
		dst = appendInt(append(dst, `,"index":`...), i)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if r.usage.known {
		dst = appendGeminiUsage(append(dst, `,"usageMetadata":`...), &r.usage)
	}
	dst = appendStrField(dst, "modelVersion", model)
	dst = appendStrField(dst, "responseId", orID(r.id, ""))
	return append(dst, '}'), nil
}
