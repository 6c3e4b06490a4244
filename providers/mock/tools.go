package mock

import (
	"github.com/llmproxy/proxy/providers/wire"
)

// ToolCall is one call of the mock's tool-call answer.
type ToolCall struct {
	ID, Name, Arguments string
}

// toolCallCount is how many parallel calls the tool-call answer makes.
const toolCallCount = 2

// argFragment is the size of the argument pieces a streamed call is split
// into, small enough that every call's arguments take several chunks, as a
// model emitting JSON token by token does.
const argFragment = 5

// Tool returns call i (0 or 1) of the deterministic tool-call answer: two
// parallel calls, get_weather then get_time.
func Tool(i int) ToolCall {
	if i == 0 {
		return ToolCall{ID: "call_mock_weather", Name: "get_weather", Arguments: `{"city":"Paris"}`}
	}
	return ToolCall{ID: "call_mock_time", Name: "get_time", Arguments: `{"tz":"CET"}`}
}

// ToolCalls returns the whole tool-call answer.
func ToolCalls() []ToolCall {
	out := make([]ToolCall, toolCallCount)
	for i := range out {
		out[i] = Tool(i)
	}
	return out
}

func fragments(args string) int { return (len(args) + argFragment - 1) / argFragment }

// toolContentEvents is the number of content events of the tool-call
// answer: per call one start event and its argument fragments.
func toolContentEvents() int {
	n := 0
	for i := 0; i < toolCallCount; i++ {
		n += 1 + fragments(Tool(i).Arguments)
	}
	return n
}

// appendToolEvent appends the delta of content event k (0-based) of the
// tool-call answer: a call's start (id, name, empty arguments) or one of
// its argument fragments.
func appendToolEvent(dst []byte, k int) []byte {
	for i := 0; i < toolCallCount; i++ {
		c := Tool(i)
		n := fragments(c.Arguments)
		if k > n {
			k -= n + 1
			continue
		}
		dst = append(dst, `{"index":0,"delta":{"tool_calls":[{"index":`...)
		dst = append(dst, byte('0'+i))
		if k == 0 {
			dst = append(dst, `,"id":`...)
			dst = wire.AppendJSONString(dst, c.ID)
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = wire.AppendJSONString(dst, c.Name)
			return append(dst, `,"arguments":""}}]},"finish_reason":null}]}`+"\n\n"...)
		}
		end := k * argFragment
		if end > len(c.Arguments) {
			end = len(c.Arguments)
		}
		dst = append(dst, `,"function":{"arguments":`...)
		dst = wire.AppendJSONString(dst, c.Arguments[(k-1)*argFragment:end])
		return append(dst, `}}]},"finish_reason":null}]}`+"\n\n"...)
	}
	return dst
}

// appendToolMessage appends the non-stream assistant message of the
// tool-call answer.
func appendToolMessage(dst []byte) []byte {
	dst = append(dst, `{"role":"assistant","content":null,"tool_calls":[`...)
	for i := 0; i < toolCallCount; i++ {
		c := Tool(i)
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = wire.AppendJSONString(dst, c.ID)
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = wire.AppendJSONString(dst, c.Name)
		dst = append(dst, `,"arguments":`...)
		dst = wire.AppendJSONString(dst, c.Arguments)
		dst = append(dst, `}}`...)
	}
	return append(dst, `],"refusal":null}`...)
}
