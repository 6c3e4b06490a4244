package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
)

func writeChatRequest(dst []byte, r *request, model string, stream bool) ([]byte, error) {
	dst = append(dst, '{')
	dst = appendStrField(dst, "model", model)
	dst = appendKey(dst, "messages")
	dst = append(dst, '[')
	if len(r.system) > 0 {
		dst = append(dst, `{"role":"system","content":`...)
		dst = wire.AppendJSONString(dst, joinSystem(r))
		dst = append(dst, '}')
	}
	for i := range r.msgs {
		dst = appendChatMessages(dst, &r.msgs[i])
	}
	dst = append(dst, ']')
	if len(r.tools) > 0 {
		dst = appendKey(dst, "tools")
		dst = append(dst, '[')
		for i, t := range r.tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"type":"function","function":{`...)
			dst = appendStrField(dst, "name", t.name)
			if t.description != "" {
				dst = appendStrField(dst, "description", t.description)
			}
			if t.params != nil {
				dst = append(appendKey(dst, "parameters"), t.params...)
			}
			dst = append(dst, "}}"...)
		}
		dst = append(dst, ']')
	}
	dst = appendOpenAIChoice(dst, r, false)
	if r.noParallel && len(r.tools) > 0 {
		dst = append(appendKey(dst, "parallel_tool_calls"), "false"...)
	}
	if r.hasTemp {
		dst = appendFloat(appendKey(dst, "temperature"), r.temperature)
	}
	if r.hasTopP {
		dst = appendFloat(appendKey(dst, "top_p"), r.topP)
	}
	if r.n > 1 {
		dst = appendInt(appendKey(dst, "n"), r.n)
	}
	if r.maxTokens > 0 {
		dst = appendInt(appendKey(dst, "max_completion_tokens"), r.maxTokens)
	}
	if len(r.stop) > 0 {
		dst = appendStrings(appendKey(dst, "stop"), r.stop)
	}
	switch r.format {
	case formatJSONObject:
		dst = append(appendKey(dst, "response_format"), `{"type":"json_object"}`...)
	case formatJSONSchema:
		dst = append(appendKey(dst, "response_format"), `{"type":"json_schema","json_schema":{`...)
		dst = appendStrField(dst, "name", schemaName(r))
		dst = append(appendKey(dst, "schema"), r.schema...)
		if r.strict {
			dst = append(appendKey(dst, "strict"), "true"...)
		}
		dst = append(dst, "}}"...)
	}
	if e := requestEffort(r); e != "" {
		dst = appendStrField(dst, "reasoning_effort", e)
	}
	if stream {
		dst = append(appendKey(dst, "stream"), `true,"stream_options":{"include_usage":true}`...)
	}
	return append(dst, '}'), nil
}

// requestEffort is the OpenAI effort for r: its own, else one derived from a
// thinking budget. Turning thinking off maps to no effort (the model's
// default) because older reasoning models reject "none".
func requestEffort(r *request) string {
	if r.effort != "" {
		if r.effort == "none" {
			return ""
		}
		return r.effort
	}
	if r.hasBudget {
		return effortFromBudget(r.budget)
	}
	return ""
}

func schemaName(r *request) string {
	if r.formatName != "" {
		return r.formatName
	}
	return "response"
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = wire.AppendJSONString(dst, s)
	}
	return append(dst, ']')
}

func appendOpenAIChoice(dst []byte, r *request, flat bool) []byte {
	switch r.choice {
	case choiceAuto:
		dst = appendStrField(dst, "tool_choice", "auto")
	case choiceNone:
		dst = appendStrField(dst, "tool_choice", "none")
	case choiceRequired:
		dst = appendStrField(dst, "tool_choice", "required")
	case choiceFunction:
		dst = append(appendKey(dst, "tool_choice"), `{"type":"function",`...)
		if flat {
			dst = wire.AppendJSONString(append(dst, `"name":`...), r.choiceName)
			dst = append(dst, '}')
		} else {
			dst = wire.AppendJSONString(append(dst, `"function":{"name":`...), r.choiceName)
			dst = append(dst, "}}"...)
		}
	}
	return dst
}

// appendChatMessages writes one model turn as Chat messages: each tool result
// becomes its own "tool" message, ahead of the turn's remaining content.
func appendChatMessages(dst []byte, m *message) []byte {
	sep := func() {
		if dst[len(dst)-1] != '[' {
			dst = append(dst, ',')
		}
	}
	if m.role == roleAssistant {
		if !hasChatAssistantContent(m) {
			return dst // only thinking: Chat rejects an empty assistant turn
		}
		sep()
		dst = append(dst, `{"role":"assistant","content":`...)
		text := ""
		for i := range m.parts {
			if m.parts[i].kind == partText {
				text += m.parts[i].text
			}
		}
		if text == "" {
			dst = append(dst, "null"...)
		} else {
			dst = wire.AppendJSONString(dst, text)
		}
		first := true
		for i := range m.parts {
			p := &m.parts[i]
			if p.kind != partToolCall {
				continue
			}
			if first {
				dst = append(dst, `,"tool_calls":[`...)
				first = false
			} else {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":`...)
			dst = wire.AppendJSONString(dst, p.id)
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = wire.AppendJSONString(dst, p.name)
			dst = append(dst, `,"arguments":`...)
			dst = wire.AppendJSONString(dst, b2s(p.args))
			dst = append(dst, "}}"...)
		}
		if !first {
			dst = append(dst, ']')
		}
		return append(dst, '}')
	}
	rest := 0
	for i := range m.parts {
		p := &m.parts[i]
		if p.kind != partToolResult {
			if p.kind == partText || p.kind == partImage {
				rest++
			}
			continue
		}
		sep()
		dst = append(dst, `{"role":"tool","tool_call_id":`...)
		dst = wire.AppendJSONString(dst, p.id)
		dst = append(dst, `,"content":`...)
		dst = wire.AppendJSONString(dst, resultText(p))
		dst = append(dst, '}')
	}
	if rest == 0 {
		return dst
	}
	sep()
	dst = append(dst, `{"role":"user","content":`...)
	if onlyOneText(m) {
		for i := range m.parts {
			if m.parts[i].kind == partText {
				return append(wire.AppendJSONString(dst, m.parts[i].text), '}')
			}
		}
	}
	dst = append(dst, '[')
	n := 0
	for i := range m.parts {
		p := &m.parts[i]
		switch p.kind {
		case partText:
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = wire.AppendJSONString(append(dst, `{"type":"text","text":`...), p.text)
			dst = append(dst, '}')
			n++
		case partImage:
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendImageURL(append(dst, `{"type":"image_url","image_url":{"url":`...), p)
			dst = append(dst, "}}"...)
			n++
		}
	}
	return append(dst, "]}"...)
}

func hasChatAssistantContent(m *message) bool {
	for i := range m.parts {
		if p := &m.parts[i]; p.kind == partToolCall || (p.kind == partText && p.text != "") {
			return true
		}
	}
	return false
}

func onlyOneText(m *message) bool {
	n := 0
	for i := range m.parts {
		if k := m.parts[i].kind; k == partText {
			n++
		} else if k == partImage {
			return false
		}
	}
	return n == 1
}
