package convert

import (
	"bytes"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Upstream decoders: each reads one upstream event and drives the client
// encoder (the on* methods) at once.

var doneMarker = []byte("[DONE]")

func (s *Stream) start(id []byte) {
	if s.started {
		return
	}
	if len(id) == 0 {
		id = []byte(newID(""))
	}
	s.id = append(s.idBuf[:0], id...)
	s.onStart()
}

func (s *Stream) decodeChat(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), doneMarker) {
		s.upDone = true
		s.start(nil)
		s.onDone()
		return nil
	}
	v, err := s.parse(data)
	if err != nil {
		return err
	}
	if e := v.Get("error"); e != nil && e.Type() != fastjson.TypeNull {
		s.onError(errorFrom(e, wire.Internal))
		return nil
	}
	s.start(strB(v, "id"))
	chs, _ := arrayOf(v.Get("choices"))
	for _, c := range chs {
		ci := c.GetInt("index")
		if d := c.Get("delta"); d != nil {
			if t := strB(d, "reasoning_content"); len(t) > 0 {
				s.onThinking(t)
			}
			if t := strB(d, "content"); len(t) > 0 {
				s.onText(ci, t)
			}
			if t := strB(d, "refusal"); len(t) > 0 {
				s.onText(ci, t)
			}
			calls, _ := arrayOf(d.Get("tool_calls"))
			for _, tc := range calls {
				ti := tc.GetInt("index")
				fn := tc.Get("function")
				ord := s.tool(ti)
				// Some servers repeat the id on every fragment: only a new
				// id (or a new index) starts a new call.
				if id := strB(tc, "id"); ord < 0 || (len(id) > 0 && !bytes.Equal(id, s.tools[ord].id)) {
					var name []byte
					if fn != nil {
						name = strB(fn, "name")
					}
					ord = s.newTool(ti, id, name)
					s.onToolStart(ord)
				}
				if fn != nil {
					if a := strB(fn, "arguments"); len(a) > 0 {
						s.onToolArgs(ord, a)
					}
				}
			}
		}
		if f := strB(c, "finish_reason"); len(f) > 0 {
			s.onFinish(ci, finishFromChat(b2s(f)), nil)
		}
	}
	if u := v.Get("usage"); isType(u, fastjson.TypeObject) {
		s.u = usageFromChat(u)
		s.onUsage()
	}
	return nil
}

func (s *Stream) decodeResponses(name, data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), doneMarker) {
		return nil // some servers add one after the terminal event
	}
	v, err := s.parse(data)
	if err != nil {
		return err
	}
	typ := strB(v, "type")
	if len(typ) == 0 {
		typ = name
	}
	switch string(typ) {
	case "response.created", "response.in_progress":
		s.start(strB(v.Get("response"), "id"))
	case "response.output_item.added":
		s.start(nil)
		if it := v.Get("item"); strS(it, "type") == "function_call" {
			ord := s.newTool(v.GetInt("output_index"), strB(it, "call_id"), strB(it, "name"))
			s.onToolStart(ord)
			if a := strB(it, "arguments"); len(a) > 0 {
				s.onToolArgs(ord, a)
			}
		}
	case "response.output_text.delta", "response.refusal.delta":
		s.start(nil)
		if d := strB(v, "delta"); len(d) > 0 {
			s.onText(0, d)
		}
	case "response.reasoning_summary_text.delta", "response.reasoning_text.delta":
		s.start(nil)
		if d := strB(v, "delta"); len(d) > 0 {
			s.onThinking(d)
		}
	case "response.function_call_arguments.delta":
		s.start(nil)
		if ord := s.tool(v.GetInt("output_index")); ord >= 0 {
			if d := strB(v, "delta"); len(d) > 0 {
				s.onToolArgs(ord, d)
			}
		}
	case "response.output_item.done":
		if it := v.Get("item"); strS(it, "type") == "function_call" {
			if ord := s.tool(v.GetInt("output_index")); ord >= 0 {
				// Some servers send the arguments only here.
				if a := strB(it, "arguments"); len(a) > 0 && len(s.tools[ord].args) == 0 {
					s.onToolArgs(ord, a)
				}
			}
			s.onBlockStop()
		}
	case "response.completed", "response.incomplete":
		s.start(nil)
		r := v.Get("response")
		s.u = usageFromResponses(r.Get("usage"))
		f := finishFromResponses(strS(r, "status"), strS(r.Get("incomplete_details"), "reason"), s.sawCalls)
		s.onFinish(0, f, nil)
		s.onUsage()
		s.upDone = true
		s.onDone()
	case "response.failed":
		s.onError(errorFrom(v.Get("response", "error"), wire.Internal))
	case "error":
		s.onError(errorFrom(v, wire.Internal))
	}
	return nil
}

func (s *Stream) decodeAnthropic(name, data []byte) error {
	v, err := s.parse(data)
	if err != nil {
		return err
	}
	typ := strB(v, "type")
	if len(typ) == 0 {
		typ = name
	}
	switch string(typ) {
	case "message_start":
		m := v.Get("message")
		addAnthropicUsage(&s.u, m.Get("usage"))
		s.start(strB(m, "id"))
	case "content_block_start":
		s.start(nil)
		cb := v.Get("content_block")
		switch strS(cb, "type") {
		case "text":
			if t := strB(cb, "text"); len(t) > 0 {
				s.onText(0, t)
			}
		case "thinking":
			if t := strB(cb, "thinking"); len(t) > 0 {
				s.onThinking(t)
			}
		case "tool_use":
			ord := s.newTool(v.GetInt("index"), strB(cb, "id"), strB(cb, "name"))
			s.onToolStart(ord)
		}
	case "content_block_delta":
		s.start(nil)
		d := v.Get("delta")
		switch strS(d, "type") {
		case "text_delta":
			if t := strB(d, "text"); len(t) > 0 {
				s.onText(0, t)
			}
		case "thinking_delta":
			if t := strB(d, "thinking"); len(t) > 0 {
				s.onThinking(t)
			}
		case "input_json_delta":
			if ord := s.tool(v.GetInt("index")); ord >= 0 {
				if t := strB(d, "partial_json"); len(t) > 0 {
					s.onToolArgs(ord, t)
				}
			}
		}
	case "content_block_stop":
		s.onBlockStop()
	case "message_delta":
		s.start(nil)
		addAnthropicUsage(&s.u, v.Get("usage"))
		d := v.Get("delta")
		if sr := strS(d, "stop_reason"); sr != "" {
			s.onFinish(0, finishFromAnthropic(sr), strB(d, "stop_sequence"))
		}
		s.onUsage()
	case "message_stop":
		s.start(nil)
		s.upDone = true
		s.onDone()
	case "error":
		s.onError(errorFrom(v.Get("error"), wire.Internal))
	}
	return nil
}

// decodeGemini reads one Gemini chunk. Gemini has no terminator event: the
// chunk with a finishReason counts as one, and the client's terminator is
// written by End, since a usage-only chunk may still follow.
func (s *Stream) decodeGemini(data []byte) error {
	v, err := s.parse(data)
	if err != nil {
		return err
	}
	if e := v.Get("error"); e != nil && e.Type() != fastjson.TypeNull {
		s.onError(errorFrom(e, wire.Internal))
		return nil
	}
	// Usage first: Gemini's first chunk often carries the prompt count,
	// which an Anthropic client's message_start can then report.
	if um := v.Get("usageMetadata"); um != nil {
		s.u = usageFromGemini(um)
	}
	s.start(strB(v, "responseId"))
	finished := false
	cands, _ := arrayOf(v.Get("candidates"))
	for _, c := range cands {
		ci := c.GetInt("index")
		parts, _ := arrayOf(c.Get("content", "parts"))
		for _, p := range parts {
			if fc := p.Get("functionCall"); fc != nil {
				id := strB(fc, "id")
				if len(id) == 0 {
					s.scratch = appendCallID(s.scratch[:0], s.id, len(s.tools))
					id = s.scratch
				}
				ord := s.newTool(len(s.tools), id, strB(fc, "name"))
				s.onToolStart(ord)
				s.scratch = s.scratch[:0]
				if a := fc.Get("args"); isType(a, fastjson.TypeObject) {
					s.scratch = appendValue(s.scratch, a)
				} else {
					s.scratch = append(s.scratch, "{}"...)
				}
				s.onToolArgs(ord, s.scratch)
				s.onBlockStop()
				continue
			}
			if t := strB(p, "text"); len(t) > 0 {
				if isType(p.Get("thought"), fastjson.TypeTrue) {
					s.onThinking(t)
				} else {
					s.onText(ci, t)
				}
			}
		}
		if fr := strS(c, "finishReason"); fr != "" {
			s.onFinish(ci, finishFromGemini(fr, s.sawCalls), nil)
			finished = true
		}
	}
	if len(cands) == 0 && strS(v.Get("promptFeedback"), "blockReason") != "" {
		s.onFinish(0, finishFilter, nil)
		finished = true
	}
	if finished {
		s.onUsage()
		s.upDone = true
	}
	return nil
}
