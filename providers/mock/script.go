package mock

import (
	"strconv"

	"github.com/llmproxy/proxy/providers/wire"
)

// A Script is an answer the request itself asked for, so that a test can
// drive a real agent client (Claude Code, Codex CLI, Gemini CLI) through
// one tool-use loop without a model:
//
//   - a user turn containing <<mock-call NAME {"json":"args"}>> is answered
//     with one call of the declared tool NAME (or of a declared tool whose
//     name ends in "<sep>NAME", as a converter that flattens tool groups
//     names it), with those arguments;
//   - once such a marker was sent, a conversation whose last turn is a tool
//     result is answered with text quoting that result ("mock tool result:
//     ..."), which proves the result reached the upstream;
//   - a request for structured output (a JSON schema in any protocol's
//     field for it) is answered with the smallest JSON value the schema
//     accepts, as a real model would: agents parse such answers (Gemini CLI
//     routes each prompt with one) and retry for minutes on plain text.
//
// Requests without a marker or a schema get the ordinary answer.
type Script struct {
	// Call, when set, is the one tool call of the answer.
	Call *ToolCall
	// Text is the answer's text when Call is nil.
	Text string
	// Custom marks Call as a Responses custom tool call, whose Arguments
	// are the tool's free-form input (see writeCustomCall).
	Custom bool
}

// Marker syntax, in a user turn's text.
const (
	markerOpen  = "<<mock-call "
	markerClose = ">>"
	// scriptCallID is the id of the scripted call.
	scriptCallID = "call_mock_script"
	// ResultPrefix starts the text that quotes a tool result.
	ResultPrefix = "mock tool result: "
	// maxQuote caps how much of a tool result the answer quotes.
	maxQuote = 4096
)

// CallMarker returns the marker that makes the mock call tool name with
// the JSON object args.
func CallMarker(name, args string) string { return markerOpen + name + " " + args + markerClose }

// scriptEvents is the number of content events of a scripted answer: the
// whole call or the whole text in one chunk.
const scriptEvents = 1

// appendScriptEvent is AppendEvent for a scripted answer: role chunk, one
// content chunk, finish chunk, usage chunk (if asked) and [DONE].
func (a *Answer) appendScriptEvent(dst []byte, i int) ([]byte, bool) {
	s := a.Script
	switch {
	case i == 0:
		dst = a.appendChunkHead(dst)
		if s.Call != nil {
			return append(dst, `{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}`+"\n\n"...), true
		}
		return append(dst, `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n"...), true
	case i == 1:
		dst = a.appendChunkHead(dst)
		if s.Call != nil {
			dst = append(dst, `{"index":0,"delta":{"tool_calls":[{"index":0,"id":`...)
			dst = wire.AppendJSONString(dst, s.Call.ID)
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = wire.AppendJSONString(dst, s.Call.Name)
			dst = append(dst, `,"arguments":`...)
			dst = wire.AppendJSONString(dst, s.Call.Arguments)
			return append(dst, `}}]},"finish_reason":null}]}`+"\n\n"...), true
		}
		dst = append(dst, `{"index":0,"delta":{"content":`...)
		dst = wire.AppendJSONString(dst, s.Text)
		return append(dst, `},"finish_reason":null}]}`+"\n\n"...), true
	case i == 2:
		dst = a.appendChunkHead(dst)
		dst = append(dst, `{"index":0,"delta":{},"finish_reason":`...)
		dst = wire.AppendJSONString(dst, s.finishReason())
		return append(dst, "}]}\n\n"...), true
	case i == 3 && a.IncludeUsage:
		dst = a.appendChunkHead(dst)
		dst = append(dst, `],"usage":`...)
		dst = a.appendUsage(dst)
		return append(dst, "}\n\n"...), true
	case i == 3 || i == 4 && a.IncludeUsage:
		return append(dst, "data: [DONE]\n\n"...), true
	}
	return dst, false
}

func (s *Script) finishReason() string {
	if s.Call != nil {
		return "tool_calls"
	}
	return "stop"
}

// appendScriptCompletion is AppendCompletion for a scripted answer.
func (a *Answer) appendScriptCompletion(dst []byte) []byte {
	s := a.Script
	dst = append(dst, `{"id":"chatcmpl-mock","object":"chat.completion","created":`+created+`,"model":`...)
	dst = wire.AppendJSONString(dst, a.Model)
	dst = append(dst, `,"choices":[{"index":0,"message":`...)
	if s.Call != nil {
		dst = append(dst, `{"role":"assistant","content":null,"tool_calls":[{"id":`...)
		dst = wire.AppendJSONString(dst, s.Call.ID)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = wire.AppendJSONString(dst, s.Call.Name)
		dst = append(dst, `,"arguments":`...)
		dst = wire.AppendJSONString(dst, s.Call.Arguments)
		dst = append(dst, `}}],"refusal":null}`...)
	} else {
		dst = append(dst, `{"role":"assistant","content":`...)
		dst = wire.AppendJSONString(dst, s.Text)
		dst = append(dst, `,"refusal":null}`...)
	}
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	dst = wire.AppendJSONString(dst, s.finishReason())
	dst = append(dst, `}],"usage":`...)
	dst = a.appendUsage(dst)
	return append(dst, '}')
}

// quote is the text answer to a tool result.
func quote(result string) string {
	if len(result) > maxQuote {
		result = result[:maxQuote] + " [" + strconv.Itoa(len(result)-maxQuote) + " bytes more]"
	}
	return ResultPrefix + result
}
