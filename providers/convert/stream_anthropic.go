package convert

import "github.com/llmproxy/proxy/providers/wire"

func (s *Stream) anthOpen(k blockKind, block string) {
	s.anthCloseBlock()
	s.curOut, s.cur = s.nextOut, k
	s.nextOut++
	s.out = appendInt(append(s.out, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...), s.curOut)
	s.out = append(append(append(s.out, `,"content_block":`...), block...), "}\n\n"...)
}

func (s *Stream) anthDelta(index int, head string, t []byte) {
	s.out = appendInt(append(s.out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...), index)
	s.out = wire.AppendJSONString(append(append(s.out, `,"delta":`...), head...), b2s(t))
	s.out = append(s.out, "}}\n\n"...)
}

func (s *Stream) anthCloseBlock() {
	if s.cur == blockNone {
		return
	}
	s.out = appendInt(append(s.out, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...), s.curOut)
	s.out = append(s.out, "}\n\n"...)
	if s.curTool >= 0 {
		s.tools[s.curTool].open = false
	}
	s.cur, s.curTool = blockNone, -1
}

// anthMessageDelta sends the stop reason with the final usage; Anthropic
// counts are cumulative, so input tokens learnt late are carried here too.
func (s *Stream) anthMessageDelta() {
	s.finSent, s.usageSent = true, true
	f := s.fin
	if f == finishNone {
		f = finishStop
	}
	s.out = append(s.out, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"...)
	s.out = wire.AppendJSONString(s.out, f.anthropic(b2s(s.stopSeq)))
	s.out = append(s.out, `,"stop_sequence":`...)
	if len(s.stopSeq) == 0 {
		s.out = append(s.out, "null"...)
	} else {
		s.out = wire.AppendJSONString(s.out, b2s(s.stopSeq))
	}
	s.out = appendAnthropicUsage(append(s.out, `},"usage":`...), &s.u)
	s.out = append(s.out, "}\n\n"...)
}
