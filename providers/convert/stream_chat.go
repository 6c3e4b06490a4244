package convert

import "github.com/llmproxy/proxy/providers/wire"

// chatRole sends the role chunk that opens choice ci, once.
func (s *Stream) chatRole(ci int) {
	if ci < 0 || ci >= 64 || s.roles&(1<<uint(ci)) != 0 {
		return
	}
	s.roles |= 1 << uint(ci)
	s.out = append(s.out, s.chatPre...)
	s.out = appendInt(append(s.out, `{"index":`...), ci)
	s.out = append(s.out, ",\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
}

func (s *Stream) chatFinish(ci int, f finish) {
	s.out = append(s.out, s.chatPre...)
	s.out = appendInt(append(s.out, `{"index":`...), ci)
	s.out = wire.AppendJSONString(append(s.out, `,"delta":{},"logprobs":null,"finish_reason":`...), f.chat())
	s.out = append(s.out, "}]}\n\n"...)
	if ci == 0 {
		s.finSent = true
	}
}

// chatUsage sends the usage chunk (empty choices) OpenAI sends last when
// stream_options.include_usage is set.
func (s *Stream) chatUsage() {
	s.usageSent = true
	if s.chatNoUsage {
		return
	}
	s.out = append(s.out, s.chatPre...)
	s.out = appendChatUsage(append(s.out, `],"usage":`...), &s.u)
	s.out = append(s.out, "}\n\n"...)
}
