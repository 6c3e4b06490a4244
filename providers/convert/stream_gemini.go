package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// gemBegin opens one Gemini chunk, up to its first candidate.
func (s *Stream) gemBegin() {
	if s.framing == FramingJSONArray {
		if s.gemFirst {
			s.out = append(s.out, ',')
		} else {
			s.out = append(s.out, '[')
		}
	} else {
		s.out = append(s.out, "data: "...)
	}
	s.gemFirst = true
	s.out = append(s.out, `{"candidates":[`...)
}

// gemEnd closes the chunk gemBegin opened, after its candidate.
func (s *Stream) gemEnd(withUsage bool) {
	s.out = append(s.out, "}]"...)
	if withUsage && s.u.known {
		s.out = appendGeminiUsage(append(s.out, `,"usageMetadata":`...), &s.u)
		s.usageSent = true
	}
	s.out = appendStrField(s.out, "modelVersion", s.model)
	s.out = appendStrField(s.out, "responseId", b2s(s.id))
	s.out = append(s.out, '}')
	if s.framing != FramingJSONArray {
		s.out = append(s.out, "\n\n"...)
	}
}

// gemFlushTool sends the buffered call whole: Gemini has no partial calls.
func (s *Stream) gemFlushTool() {
	if s.gemTool < 0 {
		return
	}
	t := &s.tools[s.gemTool]
	s.gemTool = -1
	args := t.args
	if len(args) == 0 {
		args = append(args, "{}"...)
	}
	if !isJSONObject(args) {
		s.onError(wire.BadGateway, "upstream tool call arguments are not a JSON object")
		return
	}
	s.gemBegin()
	s.out = wire.AppendJSONString(append(s.out, `{"content":{"role":"model","parts":[{"functionCall":{"id":`...), b2s(t.id))
	s.out = wire.AppendJSONString(append(s.out, `,"name":`...), b2s(t.name))
	s.out = append(append(append(s.out, `,"args":`...), args...), `}}]},"index":0`...)
	s.gemEnd(false)
}

func isJSONObject(b []byte) bool {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i < len(b) && b[i] == '{' && fastjson.ValidateBytes(b) == nil
}

// gemFinal sends the last chunk: finishReason with the usage.
func (s *Stream) gemFinal() {
	s.finSent = true
	f := s.fin
	if f == finishNone {
		f = finishStop
	}
	s.gemBegin()
	s.out = append(s.out, `{"content":{"role":"model","parts":[{"text":""}]},"finishReason":`...)
	s.out = append(wire.AppendJSONString(s.out, f.gemini()), `,"index":0`...)
	s.gemEnd(true)
}
