package kiro

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/llmproxy/proxy/providers/kiro/eventstream"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// event is one thing the service said, reduced to what an Anthropic
// answer carries.
type event struct {
	kind eventKind
	text []byte // text, or a fragment of a tool's input JSON
	id   string // tool use id
	name string // tool name
	stop bool   // the tool use is complete
}

type eventKind uint8

const (
	evText eventKind = iota + 1
	evTool
	evOther
)

// ErrEmpty is a stream that ended before any event.
var ErrEmpty = errors.New("kiro: the answer ended without an event")

// reader reads the service's events from its event-stream answer.
type reader struct {
	dec *eventstream.Decoder
	p   fastjson.Parser
	n   int
	// peeked is the first event, read ahead by peek.
	peeked    *event
	peekedErr error
}

// Exception is an exception message of the service's answer.
type Exception struct{ Type, Message string }

func (e *Exception) Error() string { return "kiro answered " + e.Type + ": " + e.Message }

// Status is the HTTP status the exception stands for, when it comes
// before any event: the service's exception types as its HTTP errors.
func (e *Exception) Status() int {
	switch {
	case strings.Contains(e.Type, "Throttling"):
		return 429
	case strings.Contains(e.Type, "Validation"):
		return 400
	case strings.Contains(e.Type, "AccessDenied"):
		return 403
	case strings.Contains(e.Type, "ServiceQuotaExceeded"):
		return 402
	}
	return 502
}

// peek reads the first event ahead (next returns it again).
func (r *reader) peek() (event, error) {
	ev, err := r.next()
	r.peeked, r.peekedErr = &ev, err
	return ev, err
}

// next returns the next event; io.EOF at a clean end after at least one
// event. An exception message, a corrupt frame or a cut is an error.
func (r *reader) next() (event, error) {
	if r.peeked != nil {
		ev, err := *r.peeked, r.peekedErr
		r.peeked, r.peekedErr = nil, nil
		return ev, err
	}
	m, err := r.dec.Next()
	if err == io.EOF {
		if r.n == 0 {
			return event{}, ErrEmpty
		}
		return event{}, io.EOF
	}
	if err != nil {
		return event{}, fmt.Errorf("kiro answer: %w", err)
	}
	r.n++
	if mt := m.Header(":message-type"); mt == "exception" || mt == "error" {
		what := m.Header(":exception-type")
		if what == "" {
			what = m.Header(":error-code")
		}
		msg := m.Header(":error-message")
		if v, err := r.p.ParseBytes(m.Payload); err == nil {
			if s := v.GetStringBytes("message"); s != nil {
				msg = string(s)
			}
		}
		return event{}, &Exception{Type: what, Message: msg}
	}
	v, err := r.p.ParseBytes(m.Payload)
	if err != nil {
		return event{}, fmt.Errorf("kiro answer: %s event: %w", m.Header(":event-type"), err)
	}
	switch m.Header(":event-type") {
	case "assistantResponseEvent":
		return event{kind: evText, text: v.GetStringBytes("content")}, nil
	case "toolUseEvent":
		ev := event{kind: evTool, id: string(v.GetStringBytes("toolUseId")), name: string(v.GetStringBytes("name")), stop: v.GetBool("stop")}
		if ev.id == "" {
			return event{}, errors.New("kiro answer: a toolUseEvent without toolUseId")
		}
		switch in := v.Get("input"); {
		case in == nil:
		case in.Type() == fastjson.TypeString:
			ev.text = in.GetStringBytes()
		default:
			ev.text = in.MarshalTo(nil)
		}
		return ev, nil
	}
	return event{kind: evOther}, nil // metering, context usage, follow-ups
}

// sse turns the service's events into an Anthropic Messages stream, one
// or more Anthropic events per upstream event, as they arrive.
type sse struct {
	r       reader
	closeFn func(error) error
	model   string
	id      string
	input   int
	count   func(out []byte) int

	buf      []byte
	pos      int
	started  bool
	err      error
	index    int    // next content block index
	open     bool   // a block is open
	tool     string // id of the open tool block, "" for text or thinking
	thinking bool   // the open block is thinking
	think    *splitter
	segs     []segment
	sawTool  bool
	closed   map[string]bool // tool use ids whose block ended
	outText  []byte          // generated text and tool inputs, for the output count
}

func (s *sse) Read(p []byte) (int, error) {
	for s.pos == len(s.buf) {
		if s.err != nil {
			return 0, s.err
		}
		s.buf, s.pos = s.buf[:0], 0
		s.step()
	}
	n := copy(p, s.buf[s.pos:])
	s.pos += n
	return n, nil
}

// step appends the events one upstream event makes (or the end).
func (s *sse) step() {
	ev, err := s.r.next()
	if !s.started {
		// message_start waits for the first upstream event, so that an
		// answer failing at once fails before the client has a 200.
		if err != nil {
			s.err = err
			return
		}
		s.started = true
		s.buf = s.messageStart(s.buf)
	}
	switch {
	case err == io.EOF:
		s.buf = s.finish(s.buf)
		s.err = io.EOF
		return
	case err != nil:
		s.err = err
		return
	}
	switch ev.kind {
	case evText:
		if len(ev.text) == 0 {
			return
		}
		if s.think == nil {
			s.text(segment{text: ev.text})
			return
		}
		for _, seg := range s.think.feed(s.segs[:0], ev.text) {
			s.text(seg)
		}
	case evTool:
		if s.closed[ev.id] {
			if len(ev.text) > 0 {
				s.err = fmt.Errorf("kiro answer: input of tool use %s continued after it ended", ev.id)
			}
			return
		}
		if s.open && s.tool != ev.id {
			s.buf = s.stopBlock(s.buf)
		}
		if !s.open {
			s.buf = append(s.buf, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
			s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
			s.buf = wire.AppendJSONString(append(s.buf, ",\"content_block\":{\"type\":\"tool_use\",\"id\":"...), ev.id)
			s.buf = wire.AppendJSONString(append(s.buf, ",\"name\":"...), ev.name)
			s.buf = append(s.buf, ",\"input\":{}}}\n\n"...)
			s.open, s.tool, s.sawTool = true, ev.id, true
		}
		if len(ev.text) > 0 {
			s.outText = append(s.outText, ev.text...)
			s.buf = append(s.buf, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
			s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
			s.buf = wire.AppendJSONString(append(s.buf, ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"...), string(ev.text))
			s.buf = append(s.buf, "}}\n\n"...)
		}
		if ev.stop {
			s.buf = s.stopBlock(s.buf)
		}
	}
}

// text appends a piece of text or thinking, in a block of its kind.
func (s *sse) text(seg segment) {
	if s.open && (s.tool != "" || s.thinking != seg.thinking) {
		s.buf = s.stopBlock(s.buf)
	}
	kind, delta := "text", "text_delta\",\"text\":"
	if seg.thinking {
		kind, delta = "thinking", "thinking_delta\",\"thinking\":"
	}
	if !s.open {
		s.buf = append(s.buf, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
		s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
		s.buf = append(append(append(s.buf, ",\"content_block\":{\"type\":\""...), kind...), "\",\""...)
		s.buf = append(append(s.buf, kind...), "\":\"\"}}\n\n"...)
		s.open, s.tool, s.thinking = true, "", seg.thinking
	}
	s.outText = append(s.outText, seg.text...)
	s.buf = append(s.buf, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	s.buf = strconv.AppendInt(s.buf, int64(s.index), 10)
	s.buf = wire.AppendJSONString(append(append(s.buf, ",\"delta\":{\"type\":\""...), delta...), string(seg.text))
	s.buf = append(s.buf, "}}\n\n"...)
}

func (s *sse) messageStart(b []byte) []byte {
	b = append(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	b = wire.AppendJSONString(b, s.id)
	b = append(b, ",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"...)
	b = wire.AppendJSONString(b, s.model)
	b = append(b, ",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":"...)
	b = strconv.AppendInt(b, int64(s.input), 10)
	return append(b, ",\"output_tokens\":0}}}\n\n"...)
}

func (s *sse) stopBlock(b []byte) []byte {
	if s.tool != "" {
		if s.closed == nil {
			s.closed = map[string]bool{}
		}
		s.closed[s.tool] = true
	}
	b = append(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	b = strconv.AppendInt(b, int64(s.index), 10)
	s.open, s.tool = false, ""
	s.index++
	return append(b, "}\n\n"...)
}

func (s *sse) finish(b []byte) []byte {
	if s.think != nil {
		s.buf = b
		for _, seg := range s.think.flush(s.segs[:0]) {
			s.text(seg)
		}
		b = s.buf
	}
	if s.open {
		b = s.stopBlock(b)
	}
	reason := "end_turn"
	if s.sawTool {
		reason = "tool_use"
	}
	b = append(b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""...)
	b = append(b, reason...)
	b = append(b, "\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":"...)
	b = strconv.AppendInt(b, int64(s.input), 10)
	b = append(b, ",\"output_tokens\":"...)
	b = strconv.AppendInt(b, int64(s.count(s.outText)), 10)
	b = append(b, "}}\n\n"...)
	return append(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

// CloseWithError ends the read of the upstream answer.
func (s *sse) CloseWithError(err error) error { return s.closeFn(err) }

// whole reads the service's whole answer into an Anthropic message.
func whole(r *reader, id, model string, input int, think *splitter, count func([]byte) int) ([]byte, error) {
	type block struct {
		tool, thinking bool
		text           []byte
		id, name       string
	}
	var blocks []*block
	closed := map[string]bool{} // tool use ids whose block ended
	var out []byte
	sawTool := false
	addText := func(last *block, seg segment) *block {
		if last == nil || last.tool || last.thinking != seg.thinking {
			if last != nil && last.tool {
				closed[last.id] = true
			}
			last = &block{thinking: seg.thinking}
			blocks = append(blocks, last)
		}
		last.text = append(last.text, seg.text...)
		out = append(out, seg.text...)
		return last
	}
	for {
		ev, err := r.next()
		if err == io.EOF {
			if think != nil {
				var last *block
				if len(blocks) > 0 {
					last = blocks[len(blocks)-1]
				}
				for _, seg := range think.flush(nil) {
					last = addText(last, seg)
				}
			}
			break
		}
		if err != nil {
			return nil, err
		}
		var last *block
		if len(blocks) > 0 {
			last = blocks[len(blocks)-1]
		}
		switch ev.kind {
		case evText:
			if len(ev.text) == 0 {
				continue
			}
			segs := []segment{{text: ev.text}}
			if think != nil {
				segs = think.feed(nil, ev.text)
			}
			for _, seg := range segs {
				last = addText(last, seg)
			}
		case evTool:
			sawTool = true
			if closed[ev.id] {
				if len(ev.text) > 0 {
					return nil, fmt.Errorf("kiro answer: input of tool use %s continued after it ended", ev.id)
				}
				continue
			}
			if last == nil || !last.tool || last.id != ev.id {
				if last != nil && last.tool {
					closed[last.id] = true
				}
				last = &block{tool: true, id: ev.id, name: ev.name}
				blocks = append(blocks, last)
			}
			last.text = append(last.text, ev.text...)
			out = append(out, ev.text...)
			if ev.stop {
				closed[ev.id] = true
			}
		}
	}
	b := append([]byte(nil), `{"id":`...)
	b = wire.AppendJSONString(b, id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = wire.AppendJSONString(b, model)
	b = append(b, `,"content":[`...)
	for i, blk := range blocks {
		if i > 0 {
			b = append(b, ',')
		}
		if blk.thinking {
			b = wire.AppendJSONString(append(b, `{"type":"thinking","thinking":`...), string(blk.text))
			b = append(b, `,"signature":""}`...)
			continue
		}
		if !blk.tool {
			b = wire.AppendJSONString(append(b, `{"type":"text","text":`...), string(blk.text))
			b = append(b, '}')
			continue
		}
		input := blk.text
		if len(input) == 0 {
			input = []byte("{}")
		}
		if v, err := fastjson.ParseBytes(input); err != nil || v.Type() != fastjson.TypeObject {
			return nil, fmt.Errorf("kiro answer: tool %s input is not a JSON object", blk.name)
		}
		b = wire.AppendJSONString(append(b, `{"type":"tool_use","id":`...), blk.id)
		b = wire.AppendJSONString(append(b, `,"name":`...), blk.name)
		b = append(append(append(b, `,"input":`...), input...), '}')
	}
	reason := "end_turn"
	if sawTool {
		reason = "tool_use"
	}
	b = append(append(append(b, `],"stop_reason":"`...), reason...), `","stop_sequence":null,"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(input), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(count(out)), 10)
	return append(b, "}}"...), nil
}
