package convert

import (
	"github.com/valyala/fastjson"
)

func usageFromChat(v *fastjson.Value) usage {
	if !isType(v, fastjson.TypeObject) {
		return usage{}
	}
	return usage{
		in:        v.GetInt("prompt_tokens"),
		cached:    v.GetInt("prompt_tokens_details", "cached_tokens"),
		out:       v.GetInt("completion_tokens"),
		reasoning: v.GetInt("completion_tokens_details", "reasoning_tokens"),
		known:     true,
	}
}

func usageFromResponses(v *fastjson.Value) usage {
	if !isType(v, fastjson.TypeObject) {
		return usage{}
	}
	return usage{
		in:        v.GetInt("input_tokens"),
		cached:    v.GetInt("input_tokens_details", "cached_tokens"),
		out:       v.GetInt("output_tokens"),
		reasoning: v.GetInt("output_tokens_details", "reasoning_tokens"),
		known:     true,
	}
}

// addAnthropicUsage folds an Anthropic usage object into u; stream events
// carry only some of the counts, so absent ones keep their value.
func addAnthropicUsage(u *usage, v *fastjson.Value) {
	if !isType(v, fastjson.TypeObject) {
		return
	}
	u.known = true
	base, cw, cr := u.in-u.cached-u.cacheCreation, u.cacheCreation, u.cached
	if x := v.Get("input_tokens"); x != nil {
		base = x.GetInt()
	}
	if x := v.Get("cache_creation_input_tokens"); x != nil {
		cw = x.GetInt()
	}
	if x := v.Get("cache_read_input_tokens"); x != nil {
		cr = x.GetInt()
	}
	u.in, u.cached, u.cacheCreation = base+cw+cr, cr, cw
	if x := v.Get("output_tokens"); x != nil {
		u.out = x.GetInt()
	}
}

func usageFromGemini(v *fastjson.Value) usage {
	if !isType(v, fastjson.TypeObject) {
		return usage{}
	}
	th := v.GetInt("thoughtsTokenCount")
	return usage{
		in:        v.GetInt("promptTokenCount"),
		cached:    v.GetInt("cachedContentTokenCount"),
		out:       v.GetInt("candidatesTokenCount") + th,
		reasoning: th,
		known:     true,
	}
}

func appendChatUsage(dst []byte, u *usage) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = appendInt(dst, u.in)
	dst = append(dst, `,"completion_tokens":`...)
	dst = appendInt(dst, u.out)
	dst = append(dst, `,"total_tokens":`...)
	dst = appendInt(dst, u.in+u.out)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = appendInt(dst, u.cached)
	dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
	dst = appendInt(dst, u.reasoning)
	return append(dst, "}}"...)
}

func appendResponsesUsage(dst []byte, u *usage) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = appendInt(dst, u.in)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = appendInt(dst, u.cached)
	dst = append(dst, `},"output_tokens":`...)
	dst = appendInt(dst, u.out)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = appendInt(dst, u.reasoning)
	dst = append(dst, `},"total_tokens":`...)
	dst = appendInt(dst, u.in+u.out)
	return append(dst, '}')
}

// appendAnthropicUsage writes u with Anthropic's split of input tokens into
// uncached, cache-written and cache-read counts.
func appendAnthropicUsage(dst []byte, u *usage) []byte {
	base := u.in - u.cached - u.cacheCreation
	if base < 0 {
		base = 0
	}
	dst = append(dst, `{"input_tokens":`...)
	dst = appendInt(dst, base)
	dst = append(dst, `,"cache_creation_input_tokens":`...)
	dst = appendInt(dst, u.cacheCreation)
	dst = append(dst, `,"cache_read_input_tokens":`...)
	dst = appendInt(dst, u.cached)
	dst = append(dst, `,"output_tokens":`...)
	dst = appendInt(dst, u.out)
	return append(dst, '}')
}

func appendGeminiUsage(dst []byte, u *usage) []byte {
	dst = append(dst, `{"promptTokenCount":`...)
	dst = appendInt(dst, u.in)
	dst = append(dst, `,"candidatesTokenCount":`...)
	dst = appendInt(dst, u.out-u.reasoning)
	dst = append(dst, `,"totalTokenCount":`...)
	dst = appendInt(dst, u.in+u.out)
	if u.cached > 0 {
		dst = append(dst, `,"cachedContentTokenCount":`...)
		dst = appendInt(dst, u.cached)
	}
	if u.reasoning > 0 {
		dst = append(dst, `,"thoughtsTokenCount":`...)
		dst = appendInt(dst, u.reasoning)
	}
	return append(dst, '}')
}
