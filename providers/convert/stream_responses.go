package convert

import (
	"github.com/llmproxy/proxy/providers/wire"
)

// respEvent opens one Responses event, up to its sequence_number; the caller
// adds fields and closes it with "}\n\n".
func (s *Stream) respEvent(typ string) {
	s.out = append(append(append(s.out, "event: "...), typ...), "\ndata: {\"type\":"...)
	s.out = wire.AppendJSONString(s.out, typ)
	s.out = appendInt(append(s.out, `,"sequence_number":`...), s.seq)
	s.seq++
}

// appendRespObject writes the response object the lifecycle events carry.
// final adds the status the finish implies, the output items and usage.
func (s *Stream) appendRespObject(dst []byte, status, reason string, final bool) []byte {
	if final {
		status, reason = s.fin.responses()
	}
	dst = wire.AppendJSONString(append(dst, `{"id":`...), b2s(s.id))
	dst = appendInt(append(dst, `,"object":"response","created_at":`...), int(s.created))
	dst = appendStrField(dst, "status", status)
	dst = append(dst, `,"error":null,"incomplete_details":`...)
	if reason == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(appendStrField(append(dst, '{'), "reason", reason), '}')
	}
	dst = appendStrField(dst, "model", s.model)
	dst = append(dst, `,"output":[`...)
	if final {
		dst = append(dst, s.items...)
	}
	dst = append(dst, `],"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"store":false,"usage":`...)
	if final && s.u.known {
		dst = appendResponsesUsage(dst, &s.u)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}

// appendItemRef writes `,"item_id":…,"output_index":n`.
func (s *Stream) appendItemRef(out int, prefix string) []byte {
	s.out = appendItemID(append(s.out, `,"item_id":`...), prefix, b2s(s.id), out)
	return appendInt(append(s.out, `,"output_index":`...), out)
}

func (s *Stream) appendToolItem(dst []byte, t *streamTool, status string) []byte {
	dst = appendItemID(append(dst, `{"id":`...), "fc_", b2s(s.id), t.out)
	if s.tm != nil {
		return appendCallItem(dst, status, b2s(t.id), b2s(t.name), t.args, s.tm)
	}
	dst = append(dst, `,"type":"function_call","status":`...)
	dst = wire.AppendJSONString(dst, status)
	dst = wire.AppendJSONString(append(dst, `,"arguments":`...), b2s(t.args))
	dst = wire.AppendJSONString(append(dst, `,"call_id":`...), b2s(t.id))
	dst = wire.AppendJSONString(append(dst, `,"name":`...), b2s(t.name))
	return append(dst, '}')
}

func (s *Stream) respOpen(k blockKind) {
	s.respClose()
	s.cur, s.curOut = k, s.nextOut
	s.nextOut++
	s.text = s.text[:0]
	s.respEvent("response.output_item.added")
	s.out = appendInt(append(s.out, `,"output_index":`...), s.curOut)
	if k == blockText {
		s.out = appendItemID(append(s.out, `,"item":{"id":`...), "msg_", b2s(s.id), s.curOut)
		s.out = append(s.out, ",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n"...)
		s.respEvent("response.content_part.added")
		s.out = s.appendItemRef(s.curOut, "msg_")
		s.out = append(s.out, ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}\n\n"...)
		return
	}
	s.out = appendItemID(append(s.out, `,"item":{"id":`...), "rs_", b2s(s.id), s.curOut)
	s.out = append(s.out, ",\"type\":\"reasoning\",\"summary\":[]}}\n\n"...)
	s.respEvent("response.reasoning_summary_part.added")
	s.out = s.appendItemRef(s.curOut, "rs_")
	s.out = append(s.out, ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"\"}}\n\n"...)
}

func (s *Stream) respText(t []byte) {
	if s.cur != blockText {
		s.respOpen(blockText)
	}
	s.text = append(s.text, t...)
	s.respEvent("response.output_text.delta")
	s.out = s.appendItemRef(s.curOut, "msg_")
	s.out = wire.AppendJSONString(append(s.out, `,"content_index":0,"delta":`...), b2s(t))
	s.out = append(s.out, ",\"logprobs\":[]}\n\n"...)
}

func (s *Stream) respThinking(t []byte) {
	if s.cur != blockThinking {
		s.respOpen(blockThinking)
	}
	s.text = append(s.text, t...)
	s.respEvent("response.reasoning_summary_text.delta")
	s.out = s.appendItemRef(s.curOut, "rs_")
	s.out = wire.AppendJSONString(append(s.out, `,"summary_index":0,"delta":`...), b2s(t))
	s.out = append(s.out, "}\n\n"...)
}

// respClose finishes the open output item with its .done events and keeps
// its final form for the terminal response object.
func (s *Stream) respClose() {
	switch s.cur {
	case blockNone:
		return
	case blockText:
		txt := b2s(s.text)
		s.respEvent("response.output_text.done")
		s.out = s.appendItemRef(s.curOut, "msg_")
		s.out = wire.AppendJSONString(append(s.out, `,"content_index":0,"text":`...), txt)
		s.out = append(s.out, ",\"logprobs\":[]}\n\n"...)
		s.respEvent("response.content_part.done")
		s.out = s.appendItemRef(s.curOut, "msg_")
		s.out = wire.AppendJSONString(append(s.out, `,"content_index":0,"part":{"type":"output_text","text":`...), txt)
		s.out = append(s.out, ",\"annotations\":[]}}\n\n"...)
		s.respItemDone()
		s.items = appendItemID(append(s.items, `{"id":`...), "msg_", b2s(s.id), s.curOut)
		s.items = append(s.items, `,"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":`...)
		s.items = append(wire.AppendJSONString(s.items, txt), `,"annotations":[]}]}`...)
	case blockThinking:
		txt := b2s(s.text)
		s.respEvent("response.reasoning_summary_text.done")
		s.out = s.appendItemRef(s.curOut, "rs_")
		s.out = wire.AppendJSONString(append(s.out, `,"summary_index":0,"text":`...), txt)
		s.out = append(s.out, "}\n\n"...)
		s.respEvent("response.reasoning_summary_part.done")
		s.out = s.appendItemRef(s.curOut, "rs_")
		s.out = wire.AppendJSONString(append(s.out, `,"summary_index":0,"part":{"type":"summary_text","text":`...), txt)
		s.out = append(s.out, "}}\n\n"...)
		s.respItemDone()
		s.items = appendItemID(append(s.items, `{"id":`...), "rs_", b2s(s.id), s.curOut)
		s.items = append(s.items, `,"type":"reasoning","summary":[{"type":"summary_text","text":`...)
		s.items = append(wire.AppendJSONString(s.items, txt), "}]}"...)
	case blockTool:
		t := &s.tools[s.curTool]
		t.open = false
		if s.tm.isCustom(t.name) {
			// A custom tool's input goes out whole once its JSON wrapper
			// is complete: a fragment of escaped JSON is not its text.
			in := customInput(t.args)
			s.respEvent("response.custom_tool_call_input.delta")
			s.out = s.appendItemRef(t.out, "fc_")
			s.out = wire.AppendJSONString(append(s.out, `,"delta":`...), in)
			s.out = append(s.out, "}\n\n"...)
			s.respEvent("response.custom_tool_call_input.done")
			s.out = s.appendItemRef(t.out, "fc_")
			s.out = wire.AppendJSONString(append(s.out, `,"input":`...), in)
			s.out = append(s.out, "}\n\n"...)
		} else {
			s.respEvent("response.function_call_arguments.done")
			s.out = s.appendItemRef(t.out, "fc_")
			s.out = wire.AppendJSONString(append(s.out, `,"arguments":`...), b2s(t.args))
			s.out = append(s.out, "}\n\n"...)
		}
		s.respEvent("response.output_item.done")
		s.out = appendInt(append(s.out, `,"output_index":`...), t.out)
		s.out = s.appendToolItem(append(s.out, `,"item":`...), t, "completed")
		s.out = append(s.out, "}\n\n"...)
		if len(s.items) > 0 {
			s.items = append(s.items, ',')
		}
		s.items = s.appendToolItem(s.items, t, "completed")
		s.cur, s.curTool = blockNone, -1
		return
	}
	s.cur = blockNone
}

// respItemDone writes output_item.done for the open message or reasoning
// item; the item is rebuilt from s.text, and a comma is queued in s.items.
func (s *Stream) respItemDone() {
	txt := b2s(s.text)
	s.respEvent("response.output_item.done")
	s.out = appendInt(append(s.out, `,"output_index":`...), s.curOut)
	if s.cur == blockText {
		s.out = appendItemID(append(s.out, `,"item":{"id":`...), "msg_", b2s(s.id), s.curOut)
		s.out = append(s.out, `,"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":`...)
		s.out = append(wire.AppendJSONString(s.out, txt), ",\"annotations\":[]}]}}\n\n"...)
	} else {
		s.out = appendItemID(append(s.out, `,"item":{"id":`...), "rs_", b2s(s.id), s.curOut)
		s.out = append(s.out, `,"type":"reasoning","summary":[{"type":"summary_text","text":`...)
		s.out = append(wire.AppendJSONString(s.out, txt), "}]}}\n\n"...)
	}
	if len(s.items) > 0 {
		s.items = append(s.items, ',')
	}
}
