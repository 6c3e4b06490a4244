package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// skipSignature is the value Gemini documents for function-call history that
// has no real thought signature (it came from another protocol): Gemini 3
// rejects such history without one.
const skipSignature = "skip_thought_signature_validator"

// writeGeminiRequest renders r as a generateContent body. The model and the
// stream choice belong in the URL, which the caller builds.
func writeGeminiRequest(dst []byte, r *request) ([]byte, error) {
	names := toolNames(r)
	dst = append(dst, '{')
	if len(r.system) > 0 {
		dst = append(appendKey(dst, "systemInstruction"), `{"parts":[{"text":`...)
		dst = append(wire.AppendJSONString(dst, joinSystem(r)), "}]}"...)
	}
	dst = append(appendKey(dst, "contents"), '[')
	var err error
	if dst, err = appendGeminiTurns(dst, r, names); err != nil {
		return nil, err
	}
	dst = append(dst, ']')
	if len(r.tools) > 0 {
		dst = append(appendKey(dst, "tools"), `[{"functionDeclarations":[`...)
		for i, t := range r.tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStrField(append(dst, '{'), "name", t.name)
			if t.description != "" {
				dst = appendStrField(dst, "description", t.description)
			}
			if t.params != nil {
				dst = append(appendKey(dst, "parametersJsonSchema"), t.params...)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, "]}]"...)
	}
	if r.choice != choiceUnset {
		dst = append(appendKey(dst, "toolConfig"), `{"functionCallingConfig":{"mode":`...)
		switch r.choice {
		case choiceNone:
			dst = append(dst, `"NONE"`...)
		case choiceRequired:
			dst = append(dst, `"ANY"`...)
		case choiceFunction:
			dst = append(dst, `"ANY","allowedFunctionNames":[`...)
			dst = append(wire.AppendJSONString(dst, r.choiceName), ']')
		default:
			dst = append(dst, `"AUTO"`...)
		}
		dst = append(dst, "}}"...)
	}
	mark := len(dst)
	dst = append(appendKey(dst, "generationConfig"), '{')
	open := len(dst)
	if r.hasTemp {
		dst = appendFloat(appendKey(dst, "temperature"), r.temperature)
	}
	if r.hasTopP {
		dst = appendFloat(appendKey(dst, "topP"), r.topP)
	}
	if r.topK > 0 {
		dst = appendInt(appendKey(dst, "topK"), r.topK)
	}
	if r.n > 1 {
		dst = appendInt(appendKey(dst, "candidateCount"), r.n)
	}
	if r.maxTokens > 0 {
		dst = appendInt(appendKey(dst, "maxOutputTokens"), r.maxTokens)
	}
	if len(r.stop) > 0 {
		dst = appendStrings(appendKey(dst, "stopSequences"), r.stop)
	}
	switch r.format {
	case formatJSONObject:
		dst = appendStrField(dst, "responseMimeType", "application/json")
	case formatJSONSchema:
		dst = appendStrField(dst, "responseMimeType", "application/json")
		dst = append(appendKey(dst, "responseJsonSchema"), r.schema...)
	}
	if b, ok := geminiBudget(r); ok {
		dst = append(appendKey(dst, "thinkingConfig"), `{"thinkingBudget":`...)
		dst = append(appendInt(dst, b), '}')
	}
	if len(dst) == open {
		dst = dst[:mark]
	} else {
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

func geminiBudget(r *request) (int, bool) {
	if r.hasBudget {
		return r.budget, true
	}
	switch r.effort {
	case "":
		return 0, false
	case "none":
		return 0, true
	}
	return budgetFromEffort(r.effort), true
}

// appendGeminiTurns writes contents: roles user/model, consecutive same-role
// turns merged so every function response of a step sits in one user turn,
// ahead of any other user parts.
func appendGeminiTurns(dst []byte, r *request, names map[string]string) ([]byte, error) {
	kept := keptMessages(r, keptForGemini)
	for a := 0; a < len(kept); {
		role := r.msgs[kept[a]].role
		b := a
		for b < len(kept) && r.msgs[kept[b]].role == role {
			b++
		}
		if a > 0 {
			dst = append(dst, ',')
		}
		if role == roleUser {
			dst = append(dst, `{"role":"user","parts":[`...)
		} else {
			dst = append(dst, `{"role":"model","parts":[`...)
		}
		first, signed := true, false
		for pass := 0; pass < 2; pass++ {
			for _, mi := range kept[a:b] {
				m := &r.msgs[mi]
				for x := range m.parts {
					p := &m.parts[x]
					if !keptForGemini(p) || (pass == 0) != (p.kind == partToolResult) {
						continue
					}
					if !first {
						dst = append(dst, ',')
					}
					first = false
					var err error
					if dst, err = appendGeminiPart(dst, p, names, !signed); err != nil {
						return nil, err
					}
					signed = signed || p.kind == partToolCall
				}
			}
		}
		dst = append(dst, "]}"...)
		a = b
	}
	return dst, nil
}

// keptForGemini reports whether p becomes a part: thinking from elsewhere
// cannot be replayed and empty text parts are refused.
func keptForGemini(p *part) bool {
	switch p.kind {
	case partText:
		return p.text != ""
	case partThinking:
		return false
	}
	return true
}

func appendGeminiPart(dst []byte, p *part, names map[string]string, sign bool) ([]byte, error) {
	switch p.kind {
	case partText:
		dst = wire.AppendJSONString(append(dst, `{"text":`...), p.text)
	case partImage:
		if p.url != "" {
			dst = append(dst, `{"fileData":{`...)
			if p.mime != "" {
				dst = appendStrField(dst, "mimeType", p.mime)
			}
			dst = append(appendStrField(dst, "fileUri", p.url), '}')
		} else {
			dst = wire.AppendJSONString(append(dst, `{"inlineData":{"mimeType":`...), p.mime)
			dst = append(appendStrField(dst, "data", p.data), '}')
		}
	case partToolCall:
		dst = wire.AppendJSONString(append(dst, `{"functionCall":{"name":`...), p.name)
		dst = append(append(appendKey(dst, "args"), p.args...), '}')
		if sign {
			dst = appendStrField(dst, "thoughtSignature", skipSignature)
		}
	case partToolResult:
		name := p.name
		if name == "" {
			name = names[p.id]
		}
		if name == "" {
			return nil, fieldErr("tool_call_id", "tool result %q answers no earlier tool call, so Gemini cannot be told its function name", p.id)
		}
		dst = wire.AppendJSONString(append(dst, `{"functionResponse":{"name":`...), name)
		dst = appendGeminiResult(appendKey(dst, "response"), p)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendGeminiResult writes a tool result as the JSON object Gemini requires:
// an object result as is, anything else wrapped as {"result":…} (or
// {"error":…} for a failed call).
func appendGeminiResult(dst []byte, p *part) []byte {
	raw := p.resultJSON
	if raw == nil && len(p.text) > 0 && (p.text[0] == '{') && !p.isError {
		var ps fastjson.Parser
		if fastjson.Validate(p.text) == nil {
			if v, err := ps.Parse(p.text); err == nil && v.Type() == fastjson.TypeObject {
				return appendValue(dst, v)
			}
		}
	}
	if len(raw) > 0 && raw[0] == '{' {
		return append(dst, raw...)
	}
	key := `{"result":`
	if p.isError {
		key = `{"error":`
	}
	dst = append(dst, key...)
	if raw != nil {
		dst = append(dst, raw...)
	} else {
		dst = wire.AppendJSONString(dst, p.text)
	}
	return append(dst, '}')
}
