package wire

import (
	"bytes"
	"strconv"
)

// The stream rules of each protocol, in one place: what ends a stream, what
// is an error event, and how the proxy writes one. The pass-through
// watcher (package stream), the first-event hold-back and the converters
// (package convert) all follow these.

// Terminator and error event names.
const (
	// ChatDone is the data of the event that ends an OpenAI Chat stream.
	ChatDone = "[DONE]"
	// AnthropicStop is the event that ends an Anthropic stream.
	AnthropicStop = "message_stop"
	// ResponsesCompleted and ResponsesIncomplete end a Responses stream;
	// ResponsesFailed ends it with an error.
	ResponsesCompleted  = "response.completed"
	ResponsesIncomplete = "response.incomplete"
	ResponsesFailed     = "response.failed"
	// ErrorEvent is the event name of Anthropic and Responses error events.
	ErrorEvent = "error"
)

var (
	chatDone      = []byte(ChatDone)
	errorObject   = []byte(`{"error"`)
	finishReason  = []byte(`"finishReason"`)
	blockReason   = []byte(`"blockReason"`)
	anthropicStop = []byte(AnthropicStop)
	errorEvent    = []byte(ErrorEvent)
	respCompleted = []byte(ResponsesCompleted)
	respIncomp    = []byte(ResponsesIncomplete)
	respFailed    = []byte(ResponsesFailed)
)

// StreamEnd is what an upstream event means for its stream.
type StreamEnd uint8

const (
	// StreamGoesOn: the stream continues after this event.
	StreamGoesOn StreamEnd = iota
	// StreamDone: the event is the protocol's normal end.
	StreamDone
	// StreamFailed: the event is the upstream's own error, which ends it.
	StreamFailed
)

// EventEnd classifies one upstream event of protocol p (name is the SSE
// event name, data its payload) from its bytes alone, without parsing it:
// cheap enough for every event of a pass-through stream.
func EventEnd(p Protocol, name, data []byte) StreamEnd {
	switch p {
	case OpenAIChat:
		switch {
		case bytes.Equal(data, chatDone):
			return StreamDone
		case bytes.HasPrefix(data, errorObject):
			return StreamFailed
		}
	case Anthropic:
		switch {
		case bytes.Equal(name, anthropicStop):
			return StreamDone
		case bytes.Equal(name, errorEvent):
			return StreamFailed
		}
	case OpenAIResponses:
		switch {
		case bytes.Equal(name, respCompleted), bytes.Equal(name, respIncomp):
			return StreamDone
		case bytes.Equal(name, respFailed), bytes.Equal(name, errorEvent):
			return StreamFailed
		}
	case Gemini:
		switch {
		case bytes.HasPrefix(data, errorObject):
			return StreamFailed
		case bytes.Contains(data, finishReason), bytes.Contains(data, blockReason):
			// A chunk with a finish reason is the last; so is a prompt
			// the model refused to answer (promptFeedback.blockReason).
			return StreamDone
		}
	}
	return StreamGoesOn
}

// IsStreamError reports whether an event of any protocol is an error: an
// "error" or "response.failed" event, or a payload that is an error object
// (OpenAI Chat, Gemini). The first-event hold-back uses it before it knows
// more than that an answer failed.
func IsStreamError(name, data []byte) bool {
	if bytes.Equal(name, errorEvent) || bytes.Equal(name, respFailed) {
		return true
	}
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t"), errorObject)
}

// AppendStreamError appends a complete SSE error event of protocol p, the
// way the proxy tells a client that a stream broke. seq is the
// sequence_number a Responses event takes (the count of events before it).
func AppendStreamError(dst []byte, p Protocol, k Kind, message string, seq int) []byte {
	switch p {
	case Anthropic:
		dst = AppendError(append(dst, "event: error\ndata: "...), p, k, message, "")
	case OpenAIResponses:
		// Responses streams have their own error event, with the error's
		// fields at the top level beside type and sequence_number.
		dst = append(dst, "event: error\ndata: {\"type\":\"error\",\"sequence_number\":"...)
		dst = strconv.AppendInt(dst, int64(seq), 10)
		dst = AppendJSONString(append(dst, `,"code":`...), responsesErrorCode(k))
		dst = AppendJSONString(append(dst, `,"message":`...), message)
		dst = append(dst, `,"param":null}`...)
	default:
		dst = AppendError(append(dst, "data: "...), p, k, message, "")
	}
	return append(dst, "\n\n"...)
}

// responsesErrorCode is the code of a Responses error event for k.
func responsesErrorCode(k Kind) string {
	switch k {
	case RateLimited:
		return "rate_limit_exceeded"
	case InvalidRequest:
		return "invalid_request_error"
	case Authentication:
		return "invalid_api_key"
	case Unavailable:
		return "server_is_overloaded"
	case Timeout:
		return "timeout"
	}
	return "server_error"
}
