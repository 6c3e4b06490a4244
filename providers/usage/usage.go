// Package usage owns how each wire protocol reports token usage: Read
// interprets one protocol's usage object (the converters use it), and
// Extract and Tracker find that object in an answer or a stream event
// without parsing the whole document, so counting tokens costs little on
// the relay path.
package usage

import (
	"bytes"

	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Counts are the tokens of one answer, counted the way OpenAI does: Input
// includes cached and cache-write tokens, Output includes reasoning.
type Counts struct {
	Input, Output int
	// Cached input tokens read from a prompt cache, CacheCreation written
	// to one (Anthropic), and the reasoning part of Output.
	Cached, CacheCreation, Reasoning int
}

// Read interprets protocol p's usage object v (nil or not an object: zero
// counts, false).
func Read(p wire.Protocol, v *fastjson.Value) (Counts, bool) {
	if v == nil || v.Type() != fastjson.TypeObject {
		return Counts{}, false
	}
	var c Counts
	switch p {
	case wire.OpenAIChat:
		c = Counts{Input: v.GetInt("prompt_tokens"), Output: v.GetInt("completion_tokens"),
			Cached: v.GetInt("prompt_tokens_details", "cached_tokens"), Reasoning: v.GetInt("completion_tokens_details", "reasoning_tokens")}
	case wire.OpenAIResponses:
		c = Counts{Input: v.GetInt("input_tokens"), Output: v.GetInt("output_tokens"),
			Cached: v.GetInt("input_tokens_details", "cached_tokens"), Reasoning: v.GetInt("output_tokens_details", "reasoning_tokens")}
	case wire.Gemini:
		th := v.GetInt("thoughtsTokenCount")
		c = Counts{Input: v.GetInt("promptTokenCount"), Output: v.GetInt("candidatesTokenCount") + th,
			Cached: v.GetInt("cachedContentTokenCount"), Reasoning: th}
	case wire.Anthropic:
		FoldAnthropic(&c, v)
	}
	return c, true
}

// FoldAnthropic folds an Anthropic usage object into c. Anthropic stream
// events carry only some counts (input at message_start, output at
// message_delta), so the ones an object lacks keep their value.
func FoldAnthropic(c *Counts, v *fastjson.Value) {
	base, cw, cr := c.Input-c.Cached-c.CacheCreation, c.CacheCreation, c.Cached
	if x := v.Get("input_tokens"); x != nil {
		base = x.GetInt()
	}
	if x := v.Get("cache_creation_input_tokens"); x != nil {
		cw = x.GetInt()
	}
	if x := v.Get("cache_read_input_tokens"); x != nil {
		cr = x.GetInt()
	}
	c.Input, c.Cached, c.CacheCreation = base+cw+cr, cr, cw
	if x := v.Get("output_tokens"); x != nil {
		c.Output = x.GetInt()
	}
}

var (
	keyUsage    = []byte(`"usage"`)
	keyMetadata = []byte(`"usageMetadata"`)
)

// Has reports cheaply whether doc may carry usage for protocol p.
func Has(p wire.Protocol, doc []byte) bool {
	if p == wire.Gemini {
		return bytes.Contains(doc, keyMetadata)
	}
	return bytes.Contains(doc, keyUsage)
}

// Extract returns the counts of the last usage object in doc (an answer,
// a stream chunk or event). ok is false when doc carries none. p's parser
// is used and may be reused by the caller afterwards.
func Extract(p wire.Protocol, doc []byte, parser *fastjson.Parser) (c Counts, ok bool) {
	key := keyUsage
	if p == wire.Gemini {
		key = keyMetadata
	}
	i := bytes.LastIndex(doc, key)
	if i < 0 {
		return c, false
	}
	// The value after the key's colon: find its span with the same scanner
	// that patches bodies, and parse only that.
	rest := doc[i+len(key):]
	j := bytes.IndexByte(rest, ':')
	if j < 0 {
		return c, false
	}
	rest = bytes.TrimLeft(rest[j+1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '{' {
		return c, false // null, or not an object
	}
	end := objectEnd(rest)
	if end < 0 {
		return c, false
	}
	v, err := parser.ParseBytes(rest[:end])
	if err != nil {
		return c, false
	}
	return Read(p, v)
}

// objectEnd returns the index after the JSON object starting at b[0].
func objectEnd(b []byte) int { return jsonpatch.ValueEnd(b, 0) }

// Tracker keeps the largest counts seen over a stream's events: usage is
// cumulative where it repeats (Anthropic's message_delta, Gemini chunks),
// and split where it is not (Anthropic input at message_start, output at
// message_delta).
type Tracker struct {
	Proto  wire.Protocol
	parser fastjson.Parser
	Counts Counts
	Seen   bool
}

// Observe looks for usage in one event's data.
func (t *Tracker) Observe(data []byte) {
	if len(data) == 0 || !Has(t.Proto, data) {
		return
	}
	c, ok := Extract(t.Proto, data, &t.parser)
	if !ok {
		return
	}
	t.Seen = true
	t.Counts.Input = max(t.Counts.Input, c.Input)
	t.Counts.Output = max(t.Counts.Output, c.Output)
}
