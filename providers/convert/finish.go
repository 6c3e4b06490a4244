package convert

import (
	"math/rand/v2"
	"strconv"
)

func finishFromChat(s string) finish {
	switch s {
	case "stop":
		return finishStop
	case "length":
		return finishLength
	case "tool_calls", "function_call":
		return finishTools
	case "content_filter":
		return finishFilter
	case "":
		return finishNone
	}
	return finishStop
}

func finishFromAnthropic(s string) finish {
	switch s {
	case "max_tokens", "model_context_window_exceeded":
		return finishLength
	case "tool_use":
		return finishTools
	case "refusal":
		return finishFilter
	case "":
		return finishNone
	}
	return finishStop // end_turn, stop_sequence, pause_turn
}

// finishFromGemini maps a finishReason; a STOP that carried function calls
// is a tool-call finish in every other protocol.
func finishFromGemini(s string, calls bool) finish {
	switch s {
	case "":
		return finishNone
	case "MAX_TOKENS":
		return finishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE":
		return finishFilter
	}
	if calls {
		return finishTools
	}
	return finishStop
}

func finishFromResponses(status, reason string, calls bool) finish {
	if status == "incomplete" {
		if reason == "content_filter" {
			return finishFilter
		}
		return finishLength
	}
	if calls {
		return finishTools
	}
	return finishStop
}

func (f finish) chat() string {
	switch f {
	case finishLength:
		return "length"
	case finishTools:
		return "tool_calls"
	case finishFilter:
		return "content_filter"
	}
	return "stop"
}

func (f finish) anthropic(stopSeq string) string {
	switch f {
	case finishLength:
		return "max_tokens"
	case finishTools:
		return "tool_use"
	case finishFilter:
		return "refusal"
	}
	if stopSeq != "" {
		return "stop_sequence"
	}
	return "end_turn"
}

func (f finish) gemini() string {
	switch f {
	case finishLength:
		return "MAX_TOKENS"
	case finishFilter:
		return "SAFETY"
	}
	return "STOP"
}

// responses returns the Responses status and incomplete reason.
func (f finish) responses() (status, reason string) {
	switch f {
	case finishLength:
		return "incomplete", "max_output_tokens"
	case finishFilter:
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// newID makes an id for a response whose upstream gave none.
func newID(prefix string) string {
	return prefix + strconv.FormatUint(rand.Uint64(), 36)
}

// appendCallID appends the id given to the n-th tool call of a Gemini
// response that carried none; base is unique per response so ids of later
// turns do not collide.
func appendCallID(dst []byte, base []byte, n int) []byte {
	dst = append(dst, "call_"...)
	dst = append(dst, base...)
	dst = append(dst, '_')
	return strconv.AppendInt(dst, int64(n), 10)
}
