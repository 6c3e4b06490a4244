package convert

import (
	usage_ "github.com/llmproxy/proxy/providers/usage"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// The usage objects of the four protocols are read by package usage, which
// the relay's token metrics use too: one reading of each protocol's counts.

func fromCounts(c usage_.Counts, ok bool) usage {
	return usage{in: c.Input, cached: c.Cached, cacheCreation: c.CacheCreation, out: c.Output, reasoning: c.Reasoning, known: ok}
}

func usageFromChat(v *fastjson.Value) usage { return fromCounts(usage_.Read(wire.OpenAIChat, v)) }
func usageFromResponses(v *fastjson.Value) usage {
	return fromCounts(usage_.Read(wire.OpenAIResponses, v))
}
func usageFromGemini(v *fastjson.Value) usage { return fromCounts(usage_.Read(wire.Gemini, v)) }

// addAnthropicUsage folds an Anthropic usage object into u; stream events
// carry only some of the counts, so absent ones keep their value.
func addAnthropicUsage(u *usage, v *fastjson.Value) {
	if !isType(v, fastjson.TypeObject) {
		return
	}
	c := usage_.Counts{Input: u.in, Cached: u.cached, CacheCreation: u.cacheCreation, Output: u.out, Reasoning: u.reasoning}
	usage_.FoldAnthropic(&c, v)
	*u = fromCounts(c, true)
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
