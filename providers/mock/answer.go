package mock

import (
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers/wire"
)

// words is the deterministic answer, cycled to the requested length. Each
// word is one token and one stream chunk.
var words = [...]string{
	"Hello", "from", "the", "mock", "provider.", "This", "answer", "is",
	"deterministic,", "so", "tests", "can", "compare", "it", "byte", "for", "byte.",
}

// Word returns the i-th token of the answer, with its leading space.
func Word(i int) string {
	w := words[i%len(words)]
	if i == 0 {
		return w
	}
	return " " + w
}

// Text returns the whole answer of n tokens, as streamed chunks join up.
func Text(n int) string {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, Word(i)...)
	}
	return string(b)
}

// Answer describes one mock answer.
type Answer struct {
	Model        string
	Tokens       int // output tokens = content chunks
	PromptTokens int
	IncludeUsage bool
	Delay        time.Duration // between chunks
	// TruncateAfter ends the stream after this many content chunks, without
	// finish chunk or [DONE] (0: never).
	TruncateAfter int
	// ToolCalls answers with the two parallel calls of Tool instead of
	// text; Tokens is then ignored.
	ToolCalls bool
	// Finish is the text answer's finish_reason; "" is stop.
	Finish string
	// Script, when set, replaces the answer with what the request asked
	// for (see Script); Tokens, ToolCalls and Finish are then ignored.
	Script *Script
}

// finishReason is the answer's OpenAI finish_reason.
func (a *Answer) finishReason() string {
	switch {
	case a.ToolCalls:
		return "tool_calls"
	case a.Finish != "":
		return a.Finish
	}
	return "stop"
}

// contentEvents is the number of stream events between the role chunk and
// the finish chunk: one per token, or the tool calls' starts and fragments.
func (a *Answer) contentEvents() int {
	if a.Script != nil {
		return scriptEvents
	}
	if a.ToolCalls {
		return toolContentEvents()
	}
	return a.Tokens
}

// OutputTokens is the completion token count the answer reports.
func (a *Answer) OutputTokens() int { return a.contentEvents() }

const created = "1700000000"

func (a *Answer) appendChunkHead(dst []byte) []byte {
	dst = append(dst, `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":`+created+`,"model":`...)
	dst = wire.AppendJSONString(dst, a.Model)
	return append(dst, `,"choices":[`...)
}

// AppendEvent appends stream event i: 0 is the role chunk, then the content
// chunks (one per token, or the tool calls' starts and argument fragments),
// the finish chunk, the usage chunk (if asked) and [DONE]. It returns false
// when i is past the end.
func (a *Answer) AppendEvent(dst []byte, i int) ([]byte, bool) {
	if a.Script != nil {
		return a.appendScriptEvent(dst, i)
	}
	n := a.contentEvents()
	switch {
	case i == 0:
		dst = a.appendChunkHead(dst)
		if a.ToolCalls {
			return append(dst, `{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}`+"\n\n"...), true
		}
		return append(dst, `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n"...), true
	case i <= n:
		dst = a.appendChunkHead(dst)
		if a.ToolCalls {
			return appendToolEvent(dst, i-1), true
		}
		dst = append(dst, `{"index":0,"delta":{"content":`...)
		dst = wire.AppendJSONString(dst, Word(i-1))
		return append(dst, `},"finish_reason":null}]}`+"\n\n"...), true
	case i == n+1:
		dst = a.appendChunkHead(dst)
		dst = append(dst, `{"index":0,"delta":{},"finish_reason":`...)
		dst = wire.AppendJSONString(dst, a.finishReason())
		return append(dst, "}]}\n\n"...), true
	case i == n+2 && a.IncludeUsage:
		dst = a.appendChunkHead(dst)
		dst = append(dst, `],"usage":`...)
		dst = a.appendUsage(dst)
		return append(dst, "}\n\n"...), true
	case i == n+2 || i == n+3 && a.IncludeUsage:
		return append(dst, "data: [DONE]\n\n"...), true
	}
	return dst, false
}

// Events is the number of events AppendEvent produces.
func (a *Answer) Events() int {
	n := a.contentEvents() + 3
	if a.IncludeUsage {
		n++
	}
	return n
}

func (a *Answer) appendUsage(dst []byte) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(a.PromptTokens), 10)
	out := a.contentEvents()
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(out), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(a.PromptTokens+out), 10)
	return append(dst, '}')
}

// AppendCompletion appends the non-stream chat.completion body.
func (a *Answer) AppendCompletion(dst []byte) []byte {
	if a.Script != nil {
		return a.appendScriptCompletion(dst)
	}
	dst = append(dst, `{"id":"chatcmpl-mock","object":"chat.completion","created":`+created+`,"model":`...)
	dst = wire.AppendJSONString(dst, a.Model)
	dst = append(dst, `,"choices":[{"index":0,"message":`...)
	if a.ToolCalls {
		dst = appendToolMessage(dst)
		dst = append(dst, `,"logprobs":null,"finish_reason":"tool_calls"}],"usage":`...)
	} else {
		dst = append(dst, `{"role":"assistant","content":`...)
		dst = wire.AppendJSONString(dst, Text(a.Tokens))
		dst = append(dst, `,"refusal":null},"logprobs":null,"finish_reason":`...)
		dst = wire.AppendJSONString(dst, a.finishReason())
		dst = append(dst, `}],"usage":`...)
	}
	dst = a.appendUsage(dst)
	return append(dst, '}')
}

// AppendModels appends an OpenAI model list of the given ids.
func AppendModels(dst []byte, owner string, ids []string) []byte {
	dst = append(dst, `{"object":"list","data":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendModel(dst, owner, id)
	}
	return append(dst, "]}"...)
}

// AppendModel appends one OpenAI model object.
func AppendModel(dst []byte, owner, id string) []byte {
	dst = append(dst, `{"id":`...)
	dst = wire.AppendJSONString(dst, id)
	dst = append(dst, `,"object":"model","created":`+created+`,"owned_by":`...)
	dst = wire.AppendJSONString(dst, owner)
	return append(dst, '}')
}

// AppendAnthropicModels appends an Anthropic model list of the given ids.
func AppendAnthropicModels(dst []byte, ids []string) []byte {
	dst = append(dst, `{"data":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"model","id":`...)
		dst = wire.AppendJSONString(dst, id)
		dst = append(dst, `,"display_name":`...)
		dst = wire.AppendJSONString(dst, id)
		dst = append(dst, `,"created_at":"2023-11-14T22:13:20Z"}`...)
	}
	dst = append(dst, `],"has_more":false,"first_id":`...)
	dst = appendFirstLast(dst, ids, 0)
	dst = append(dst, `,"last_id":`...)
	dst = appendFirstLast(dst, ids, len(ids)-1)
	return append(dst, '}')
}

func appendFirstLast(dst []byte, ids []string, i int) []byte {
	if len(ids) == 0 {
		return append(dst, "null"...)
	}
	return wire.AppendJSONString(dst, ids[i])
}

// AppendGeminiModels appends a Gemini model list of the given ids.
func AppendGeminiModels(dst []byte, ids []string) []byte {
	dst = append(dst, `{"models":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = wire.AppendJSONString(dst, "models/"+id)
		dst = append(dst, `,"displayName":`...)
		dst = wire.AppendJSONString(dst, id)
		dst = append(dst, `,"inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":["generateContent","countTokens"]}`...)
	}
	return append(dst, "]}"...)
}
