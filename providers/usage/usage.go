// Package usage reads token counts out of answers of any wire protocol
// without parsing the whole document: it finds the usage object by name and
// parses only that, so counting tokens costs little on the relay path.
package usage

import (
	"bytes"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/jsonpatch"
	"github.com/valyala/fastjson"
)

// Counts are the tokens of one answer.
type Counts struct {
	Input, Output int
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
	switch p {
	case wire.OpenAIChat:
		c.Input, c.Output = v.GetInt("prompt_tokens"), v.GetInt("completion_tokens")
	case wire.Gemini:
		c.Input = v.GetInt("promptTokenCount")
		c.Output = v.GetInt("candidatesTokenCount") + v.GetInt("thoughtsTokenCount")
	case wire.Anthropic:
		c.Input = v.GetInt("input_tokens") + v.GetInt("cache_creation_input_tokens") + v.GetInt("cache_read_input_tokens")
		c.Output = v.GetInt("output_tokens")
	default:
		c.Input, c.Output = v.GetInt("input_tokens"), v.GetInt("output_tokens")
	}
	return c, true
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
