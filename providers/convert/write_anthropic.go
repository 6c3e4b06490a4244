package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
)

// anthropicThinking decides the thinking budget for an Anthropic upstream and
// the max_tokens to send with it (0 budget = thinking off).
func anthropicThinking(r *request) (budget, maxTokens int) {
	maxTokens = r.maxTokens
	switch {
	case r.hasBudget && r.budget > 0:
		budget = r.budget
	case r.hasBudget && r.budget < 0:
		budget = budgetFromEffort("medium") // dynamic: a moderate budget
	case !r.hasBudget && r.effort != "":
		budget = budgetFromEffort(r.effort)
	}
	// Anthropic rejects forced tool use while thinking.
	if r.choice == choiceRequired || r.choice == choiceFunction {
		budget = 0
	}
	if maxTokens <= 0 {
		maxTokens = anthropicDefaultMaxTokens
		if budget > 0 {
			maxTokens += budget // keep the default room for the answer itself
		}
	}
	if r.outCap > 0 && maxTokens > r.outCap {
		maxTokens = r.outCap
	}
	if budget >= maxTokens/2 && r.maxTokens > 0 || budget >= maxTokens {
		budget = maxTokens / 2
	}
	if budget > 0 && budget < 1024 {
		budget = 0 // below Anthropic's minimum: leave thinking off
	}
	return budget, maxTokens
}

func writeAnthropicRequest(dst []byte, r *request, model string, stream bool) ([]byte, error) {
	budget, maxTokens := anthropicThinking(r)
	dst = append(dst, '{')
	dst = appendStrField(dst, "model", model)
	dst = appendInt(appendKey(dst, "max_tokens"), maxTokens)
	if len(r.system) > 0 {
		dst = appendStrField(dst, "system", joinSystem(r))
	}
	dst = append(appendKey(dst, "messages"), '[')
	dst = appendAnthropicTurns(dst, r)
	dst = append(dst, ']')
	if len(r.tools) > 0 {
		dst = append(appendKey(dst, "tools"), '[')
		for i, t := range r.tools {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStrField(append(dst, '{'), "name", t.name)
			if t.description != "" {
				dst = appendStrField(dst, "description", t.description)
			}
			params := t.params
			if params == nil {
				params = []byte(`{"type":"object","properties":{}}`)
			}
			dst = append(append(appendKey(dst, "input_schema"), params...), '}')
		}
		dst = append(dst, ']')
	}
	if c := r.choice; c != choiceUnset || r.noParallel {
		dst = append(appendKey(dst, "tool_choice"), '{')
		switch c {
		case choiceNone:
			dst = append(dst, `"type":"none"`...)
		case choiceRequired:
			dst = append(dst, `"type":"any"`...)
		case choiceFunction:
			dst = appendStrField(append(dst, `"type":"tool"`...), "name", r.choiceName)
		default:
			dst = append(dst, `"type":"auto"`...)
		}
		if r.noParallel && c != choiceNone {
			dst = append(dst, `,"disable_parallel_tool_use":true`...)
		}
		dst = append(dst, '}')
	}
	// With thinking on Anthropic rejects sampling changes: they are dropped.
	if budget == 0 {
		if r.hasTemp {
			t := r.temperature
			if t > 1 {
				t = 1
			} else if t < 0 {
				t = 0
			}
			dst = appendFloat(appendKey(dst, "temperature"), t)
		}
		// Newer models reject temperature and top_p together; the
		// temperature is the one clients set more often.
		if r.hasTopP && !r.hasTemp {
			dst = appendFloat(appendKey(dst, "top_p"), r.topP)
		}
		if r.topK > 0 {
			dst = appendInt(appendKey(dst, "top_k"), r.topK)
		}
	}
	if len(r.stop) > 0 {
		dst = appendStrings(appendKey(dst, "stop_sequences"), r.stop)
	}
	if budget > 0 {
		dst = append(appendKey(dst, "thinking"), `{"type":"enabled","budget_tokens":`...)
		dst = append(appendInt(dst, budget), '}')
	}
	if r.format == formatJSONSchema {
		dst = append(appendKey(dst, "output_config"), `{"format":{"type":"json_schema","schema":`...)
		dst = append(append(dst, r.schema...), "}}"...)
	}
	if stream {
		dst = append(appendKey(dst, "stream"), "true"...)
	}
	return append(dst, '}'), nil
}

// keptForAnthropic reports whether p becomes a content block: empty text
// blocks are rejected by the API and thinking from elsewhere has no valid
// signature.
func keptForAnthropic(p *part) bool {
	switch p.kind {
	case partText:
		return p.text != ""
	case partThinking:
		return false
	}
	return true
}

// appendAnthropicTurns merges consecutive same-role turns (Anthropic wants
// strict alternation) and puts tool results ahead of other user content.
func appendAnthropicTurns(dst []byte, r *request) []byte {
	kept := keptMessages(r, keptForAnthropic)
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
			dst = append(dst, `{"role":"user","content":[`...)
		} else {
			dst = append(dst, `{"role":"assistant","content":[`...)
		}
		first := true
		for pass := 0; pass < 2; pass++ {
			for _, mi := range kept[a:b] {
				m := &r.msgs[mi]
				for x := range m.parts {
					p := &m.parts[x]
					if !keptForAnthropic(p) || (pass == 0) != (p.kind == partToolResult) {
						continue
					}
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = appendAnthropicBlock(dst, p)
				}
			}
		}
		dst = append(dst, "]}"...)
		a = b
	}
	return dst
}

func appendAnthropicBlock(dst []byte, p *part) []byte {
	switch p.kind {
	case partText:
		dst = wire.AppendJSONString(append(dst, `{"type":"text","text":`...), p.text)
	case partImage:
		if p.url != "" {
			dst = wire.AppendJSONString(append(dst, `{"type":"image","source":{"type":"url","url":`...), p.url)
		} else {
			dst = wire.AppendJSONString(append(dst, `{"type":"image","source":{"type":"base64","media_type":`...), p.mime)
			dst = appendStrField(dst, "data", p.data)
		}
		dst = append(dst, '}')
	case partToolCall:
		dst = wire.AppendJSONString(append(dst, `{"type":"tool_use","id":`...), p.id)
		dst = appendStrField(dst, "name", p.name)
		dst = append(appendKey(dst, "input"), p.args...)
	case partToolResult:
		dst = wire.AppendJSONString(append(dst, `{"type":"tool_result","tool_use_id":`...), p.id)
		if t := resultText(p); t != "" {
			dst = appendStrField(dst, "content", t)
		}
		if p.isError {
			dst = append(dst, `,"is_error":true`...)
		}
	}
	return append(dst, '}')
}
