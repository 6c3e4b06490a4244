package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
)

// Client encoders. Each on* method appends the client events one upstream
// happening calls for to s.out. Blocks (Anthropic) and output items
// (Responses) are opened lazily and closed when the next one starts, when
// the upstream says a block ended, or at the finish.

func (s *Stream) onStart() {
	s.started = true
	switch s.to {
	case wire.OpenAIChat:
		s.chatPre = append(s.chatPre[:0], `data: {"id":`...)
		s.chatPre = wire.AppendJSONString(s.chatPre, b2s(s.id))
		s.chatPre = append(s.chatPre, `,"object":"chat.completion.chunk","created":`...)
		s.chatPre = appendInt(s.chatPre, int(s.created))
		s.chatPre = append(appendStrField(s.chatPre, "model", s.model), `,"choices":[`...)
		s.chatRole(0)
	case wire.Anthropic:
		s.out = append(s.out, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
		s.out = wire.AppendJSONString(s.out, b2s(s.id))
		s.out = append(s.out, `,"type":"message","role":"assistant"`...)
		s.out = appendStrField(s.out, "model", s.model)
		s.out = append(s.out, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
		s.out = appendAnthropicUsage(s.out, &s.u)
		s.out = append(s.out, "}}\n\n"...)
	case wire.OpenAIResponses:
		s.respEvent("response.created")
		s.out = s.appendRespObject(append(s.out, `,"response":`...), "in_progress", "", false)
		s.out = append(s.out, "}\n\n"...)
		s.respEvent("response.in_progress")
		s.out = s.appendRespObject(append(s.out, `,"response":`...), "in_progress", "", false)
		s.out = append(s.out, "}\n\n"...)
	}
}

func (s *Stream) onText(ci int, t []byte) {
	switch s.to {
	case wire.OpenAIChat:
		s.chatRole(ci)
		s.out = append(s.out, s.chatPre...)
		s.out = appendInt(append(s.out, `{"index":`...), ci)
		s.out = wire.AppendJSONString(append(s.out, `,"delta":{"content":`...), b2s(t))
		s.out = append(s.out, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
	case wire.Anthropic:
		if ci != 0 {
			return
		}
		if s.cur != blockText {
			s.anthOpen(blockText, `{"type":"text","text":""}`)
		}
		s.anthDelta(s.curOut, `{"type":"text_delta","text":`, t)
	case wire.OpenAIResponses:
		if ci != 0 {
			return
		}
		s.respText(t)
	case wire.Gemini:
		s.gemFlushTool()
		s.gemBegin()
		s.out = append(s.out, `{"content":{"role":"model","parts":[{"text":`...)
		s.out = wire.AppendJSONString(s.out, b2s(t))
		s.out = appendInt(append(s.out, `}]},"index":`...), ci)
		s.gemEnd(false)
	}
}

func (s *Stream) onThinking(t []byte) {
	switch s.to {
	case wire.Anthropic:
		if s.cur != blockThinking {
			s.anthOpen(blockThinking, `{"type":"thinking","thinking":"","signature":""}`)
		}
		s.anthDelta(s.curOut, `{"type":"thinking_delta","thinking":`, t)
	case wire.OpenAIResponses:
		s.respThinking(t)
	case wire.Gemini:
		s.gemFlushTool()
		s.gemBegin()
		s.out = wire.AppendJSONString(append(s.out, `{"content":{"role":"model","parts":[{"text":`...), b2s(t))
		s.out = append(s.out, `,"thought":true}]},"index":0`...)
		s.gemEnd(false)
	}
	// Chat Completions has no field for reasoning text: dropped.
}

func (s *Stream) onToolStart(ord int) {
	t := &s.tools[ord]
	switch s.to {
	case wire.OpenAIChat:
		s.chatRole(0)
		s.out = append(s.out, s.chatPre...)
		s.out = appendInt(append(s.out, `{"index":0,"delta":{"tool_calls":[{"index":`...), ord)
		s.out = wire.AppendJSONString(append(s.out, `,"id":`...), b2s(t.id))
		s.out = wire.AppendJSONString(append(s.out, `,"type":"function","function":{"name":`...), b2s(t.name))
		s.out = append(s.out, ",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
	case wire.Anthropic:
		s.anthCloseBlock()
		s.curOut, s.cur, s.curTool = s.nextOut, blockTool, ord
		s.nextOut++
		t.out, t.open = s.curOut, true
		s.out = appendInt(append(s.out, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...), s.curOut)
		s.out = wire.AppendJSONString(append(s.out, `,"content_block":{"type":"tool_use","id":`...), b2s(t.id))
		s.out = wire.AppendJSONString(append(s.out, `,"name":`...), b2s(t.name))
		s.out = append(s.out, ",\"input\":{}}}\n\n"...)
	case wire.OpenAIResponses:
		s.respClose()
		s.curOut, s.cur, s.curTool = s.nextOut, blockTool, ord
		s.nextOut++
		t.out, t.open = s.curOut, true
		s.respEvent("response.output_item.added")
		s.out = appendInt(append(s.out, `,"output_index":`...), t.out)
		s.out = s.appendToolItem(append(s.out, `,"item":`...), t, "in_progress")
		s.out = append(s.out, "}\n\n"...)
	case wire.Gemini:
		s.gemFlushTool()
		s.gemTool = ord
	}
}

func (s *Stream) onToolArgs(ord int, frag []byte) {
	t := &s.tools[ord]
	t.args = append(t.args, frag...)
	switch s.to {
	case wire.OpenAIChat:
		s.out = append(s.out, s.chatPre...)
		s.out = appendInt(append(s.out, `{"index":0,"delta":{"tool_calls":[{"index":`...), ord)
		s.out = wire.AppendJSONString(append(s.out, `,"function":{"arguments":`...), b2s(frag))
		s.out = append(s.out, "}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
	case wire.Anthropic:
		if t.out >= 0 {
			s.anthDelta(t.out, `{"type":"input_json_delta","partial_json":`, frag)
		}
	case wire.OpenAIResponses:
		if t.out >= 0 && !s.tm.isCustom(t.name) {
			s.respEvent("response.function_call_arguments.delta")
			s.out = s.appendItemRef(t.out, "fc_")
			s.out = wire.AppendJSONString(append(s.out, `,"delta":`...), b2s(frag))
			s.out = append(s.out, "}\n\n"...)
		}
	}
}

func (s *Stream) onBlockStop() {
	switch s.to {
	case wire.Anthropic:
		s.anthCloseBlock()
	case wire.OpenAIResponses:
		s.respClose()
	case wire.Gemini:
		s.gemFlushTool()
	}
}

func (s *Stream) onFinish(ci int, f finish, stopSeq []byte) {
	if f == finishStop && s.sawCalls {
		f = finishTools
	}
	switch s.to {
	case wire.OpenAIChat:
		s.chatRole(ci)
		s.chatFinish(ci, f)
		return
	case wire.Anthropic:
		s.anthCloseBlock()
	case wire.OpenAIResponses:
		s.respClose()
	case wire.Gemini:
		s.gemFlushTool()
		if ci != 0 {
			s.gemBegin()
			s.out = append(s.out, `{"content":{"role":"model","parts":[{"text":""}]},"finishReason":`...)
			s.out = appendInt(append(wire.AppendJSONString(s.out, f.gemini()), `,"index":`...), ci)
			s.gemEnd(false)
			return
		}
	}
	if ci == 0 {
		s.fin = f
		s.stopSeq = append(s.stopSeq[:0], stopSeq...)
	}
}

// onUsage reports that s.u holds final counts. Anthropic clients get them in
// the event that also carries the finish, so a finish waits for them (they
// follow it at once in every upstream protocol).
func (s *Stream) onUsage() {
	if s.usageSent || !s.u.known {
		return
	}
	switch s.to {
	case wire.OpenAIChat:
		if s.finSent {
			s.chatUsage()
		}
	case wire.Anthropic:
		if s.fin != finishNone && !s.finSent {
			s.anthMessageDelta()
		}
	}
	// A Gemini client takes the chunk with finishReason as the end of the
	// stream, so it waits for the upstream terminator (onDone).
}

func (s *Stream) onDone() {
	if s.ended {
		return
	}
	if !s.started {
		s.start(nil)
	}
	s.ended = true
	f := s.fin
	if f == finishNone {
		f = finishStop
		if s.sawCalls {
			f = finishTools
		}
		s.fin = f
	}
	switch s.to {
	case wire.OpenAIChat:
		if !s.finSent {
			s.chatFinish(0, f)
		}
		if !s.usageSent && s.u.known {
			s.chatUsage()
		}
		s.out = append(s.out, "data: [DONE]\n\n"...)
	case wire.Anthropic:
		s.anthCloseBlock()
		if !s.finSent {
			s.anthMessageDelta()
		}
		s.out = append(s.out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
	case wire.OpenAIResponses:
		s.respClose()
		status, _ := f.responses()
		s.respEvent("response." + status)
		s.out = s.appendRespObject(append(s.out, `,"response":`...), "", "", true)
		s.out = append(s.out, "}\n\n"...)
	case wire.Gemini:
		s.gemFlushTool()
		if !s.finSent {
			s.gemFinal()
		}
		if s.framing == FramingJSONArray {
			if !s.gemFirst {
				s.out = append(s.out, '[')
			}
			s.out = append(s.out, "]"...)
		}
	}
}

func (s *Stream) onError(kind wire.Kind, msg string) {
	if s.failed {
		return // one error event ends a stream; takeOut cuts what follows it
	}
	s.failed = true
	if s.to == wire.Gemini && s.framing == FramingJSONArray {
		// The JSON-array framing is the converter's own: the error is the
		// array's last element.
		if s.gemFirst {
			s.out = append(s.out, ',')
		} else {
			s.out = append(s.out, '[')
		}
		s.out = append(wire.AppendError(s.out, wire.Gemini, kind, msg, ""), ']')
		s.errEnd = len(s.out)
		return
	}
	s.out = wire.AppendStreamError(s.out, s.to, kind, msg, s.seq)
	s.errEnd = len(s.out)
	if s.to == wire.OpenAIResponses {
		s.seq++
	}
}
