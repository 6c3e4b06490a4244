package mock

import (
	"bufio"
	"strconv"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// The proxy's converter has no notion of a Responses custom (freeform)
// tool call, which only a Responses upstream can make, so the mock writes
// that answer itself: Codex CLI runs shell commands through its custom
// "exec" tool.

const customItemID = "ctc_mock_script"

// appendCustomItem appends the custom_tool_call output item of a.
func appendCustomItem(dst []byte, a *Answer, done bool) []byte {
	c := a.Script.Call
	dst = append(dst, `{"id":"`+customItemID+`","type":"custom_tool_call","status":`...)
	input := c.Arguments
	if done {
		dst = append(dst, `"completed"`...)
	} else {
		dst = append(dst, `"in_progress"`...)
		input = ""
	}
	dst = append(dst, `,"call_id":`...)
	dst = wire.AppendJSONString(dst, c.ID)
	dst = append(dst, `,"name":`...)
	dst = wire.AppendJSONString(dst, c.Name)
	dst = append(dst, `,"input":`...)
	dst = wire.AppendJSONString(dst, input)
	return append(dst, '}')
}

// appendCustomResponse appends the Responses response object of a, whole
// (status completed, with its output and usage) or as first announced.
func appendCustomResponse(dst []byte, a *Answer, done bool) []byte {
	dst = append(dst, `{"id":"resp_mock","object":"response","created_at":`+created+`,"status":`...)
	if !done {
		dst = append(dst, `"in_progress","model":`...)
		dst = wire.AppendJSONString(dst, a.Model)
		return append(dst, `,"output":[]}`...)
	}
	dst = append(dst, `"completed","model":`...)
	dst = wire.AppendJSONString(dst, a.Model)
	dst = append(dst, `,"output":[`...)
	dst = appendCustomItem(dst, a, true)
	dst = append(dst, `],"usage":{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(a.PromptTokens), 10)
	dst = append(dst, `,"output_tokens":1,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(a.PromptTokens+1), 10)
	return append(dst, `}}`...)
}

// appendCustomEvents appends the whole Responses event stream of a.
func appendCustomEvents(dst []byte, a *Answer) []byte {
	seq := 0
	event := func(name string, body func([]byte) []byte) {
		dst = append(dst, "event: "+name+"\ndata: {\"type\":\""+name+"\",\"sequence_number\":"...)
		dst = strconv.AppendInt(dst, int64(seq), 10)
		seq++
		dst = body(dst)
		dst = append(dst, "}\n\n"...)
	}
	input := a.Script.Call.Arguments
	event("response.created", func(b []byte) []byte {
		return appendCustomResponse(append(b, `,"response":`...), a, false)
	})
	event("response.output_item.added", func(b []byte) []byte {
		return appendCustomItem(append(b, `,"output_index":0,"item":`...), a, false)
	})
	event("response.custom_tool_call_input.delta", func(b []byte) []byte {
		b = append(b, `,"output_index":0,"item_id":"`+customItemID+`","delta":`...)
		return wire.AppendJSONString(b, input)
	})
	event("response.custom_tool_call_input.done", func(b []byte) []byte {
		b = append(b, `,"output_index":0,"item_id":"`+customItemID+`","input":`...)
		return wire.AppendJSONString(b, input)
	})
	event("response.output_item.done", func(b []byte) []byte {
		return appendCustomItem(append(b, `,"output_index":0,"item":`...), a, true)
	})
	event("response.completed", func(b []byte) []byte {
		return appendCustomResponse(append(b, `,"response":`...), a, true)
	})
	return dst
}

// writeCustomCall answers a Responses request with a's custom tool call.
func writeCustomCall(ctx *fasthttp.RequestCtx, a Answer, stream bool) {
	if !stream {
		ctx.SetContentType("application/json")
		ctx.Response.SetBodyRaw(appendCustomResponse(nil, &a, true))
		return
	}
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		_, _ = w.Write(appendCustomEvents(nil, &a))
		_ = w.Flush()
	})
}
