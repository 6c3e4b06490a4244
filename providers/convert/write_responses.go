package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
)

// writeResponsesRequest renders r for the Responses API. It always sends
// store:false: the proxy is stateless and replays the whole input each turn.
// Responses has no stop sequences and no top_k: both are dropped.
func writeResponsesRequest(dst []byte, r *request, model string, stream bool) ([]byte, error) {
	dst = append(dst, '{')
	dst = appendStrField(dst, "model", model)
	if len(r.system) > 0 {
		dst = appendStrField(dst, "instructions", joinSystem(r))
	}
	dst = append(appendKey(dst, "input"), '[')
	for i := range r.msgs {
		dst = appendResponsesItems(dst, &r.msgs[i])
	}
	dst = append(dst, ']')
	if len(r.tools) > 0 {
		dst = append(appendKey(dst, "tools"), '[')
		for i, t := range r.tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"type":"function"`...)
			dst = appendStrField(dst, "name", t.name)
			if t.description != "" {
				dst = appendStrField(dst, "description", t.description)
			}
			params := t.params
			if params == nil {
				params = []byte(`{"type":"object","properties":{}}`)
			}
			// Responses defaults strict to true, which rejects ordinary
			// schemas; the other protocols are never strict.
			dst = append(append(appendKey(dst, "parameters"), params...), `,"strict":false}`...)
		}
		dst = append(dst, ']')
	}
	dst = appendOpenAIChoice(dst, r, true)
	if r.noParallel && len(r.tools) > 0 {
		dst = append(appendKey(dst, "parallel_tool_calls"), "false"...)
	}
	if r.hasTemp {
		dst = appendFloat(appendKey(dst, "temperature"), r.temperature)
	}
	if r.hasTopP {
		dst = appendFloat(appendKey(dst, "top_p"), r.topP)
	}
	if r.maxTokens > 0 {
		dst = appendInt(appendKey(dst, "max_output_tokens"), r.maxTokens)
	}
	switch r.format {
	case formatJSONObject:
		dst = append(appendKey(dst, "text"), `{"format":{"type":"json_object"}}`...)
	case formatJSONSchema:
		dst = append(appendKey(dst, "text"), `{"format":{"type":"json_schema"`...)
		dst = appendStrField(dst, "name", schemaName(r))
		dst = append(appendKey(dst, "schema"), r.schema...)
		if r.strict {
			dst = append(appendKey(dst, "strict"), "true"...)
		}
		dst = append(dst, "}}"...)
	}
	if e := requestEffort(r); e != "" {
		dst = appendStrField(append(appendKey(dst, "reasoning"), '{'), "effort", e)
		dst = append(dst, '}')
	}
	dst = append(appendKey(dst, "store"), "false"...)
	if stream {
		dst = append(appendKey(dst, "stream"), "true"...)
	}
	return append(dst, '}'), nil
}

// appendResponsesItems writes one turn as Responses input items: tool
// results and calls are items of their own, text and images a message.
func appendResponsesItems(dst []byte, m *message) []byte {
	sep := func() {
		if dst[len(dst)-1] != '[' {
			dst = append(dst, ',')
		}
	}
	if m.role == roleAssistant {
		text := ""
		for i := range m.parts {
			if m.parts[i].kind == partText {
				text += m.parts[i].text
			}
		}
		if text != "" {
			sep()
			dst = append(dst, `{"type":"message","role":"assistant","content":[{"type":"output_text","text":`...)
			dst = wire.AppendJSONString(dst, text)
			dst = append(dst, "}]}"...)
		}
		for i := range m.parts {
			p := &m.parts[i]
			if p.kind != partToolCall {
				continue
			}
			sep()
			dst = append(dst, `{"type":"function_call","call_id":`...)
			dst = wire.AppendJSONString(dst, p.id)
			dst = appendStrField(dst, "name", p.name)
			dst = appendStrField(dst, "arguments", b2s(p.args))
			dst = append(dst, '}')
		}
		return dst
	}
	content := 0
	for i := range m.parts {
		p := &m.parts[i]
		if p.kind == partText || p.kind == partImage {
			content++
		}
		if p.kind != partToolResult {
			continue
		}
		sep()
		dst = append(dst, `{"type":"function_call_output","call_id":`...)
		dst = wire.AppendJSONString(dst, p.id)
		dst = appendStrField(dst, "output", resultText(p))
		dst = append(dst, '}')
	}
	if content == 0 {
		return dst
	}
	sep()
	dst = append(dst, `{"type":"message","role":"user","content":[`...)
	n := 0
	for i := range m.parts {
		p := &m.parts[i]
		switch p.kind {
		case partText:
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = wire.AppendJSONString(append(dst, `{"type":"input_text","text":`...), p.text)
			dst = append(dst, '}')
			n++
		case partImage:
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendImageURL(append(dst, `{"type":"input_image","image_url":`...), p)
			dst = append(dst, '}')
			n++
		}
	}
	return append(dst, "]}"...)
}
