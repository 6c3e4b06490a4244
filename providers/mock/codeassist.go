package mock

import (
	"bufio"
	"bytes"

	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// codeAssist answers Google Code Assist's v1internal generation methods
// (what Gemini CLI and Antigravity accounts use): the Gemini request comes
// in an envelope ({"model", "project", "request"}) and every answer, and
// every streamed event, goes back in one ({"response": …}). Discovery
// (loadCodeAssist) answers a fixed project.
func (s *Server) codeAssist(ctx *fasthttp.RequestCtx, method string) bool {
	switch method {
	case "loadCodeAssist":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"cloudaicompanionProject":"mock-project"}`)
		return true
	case "generateContent", "streamGenerateContent":
	default:
		return false
	}
	v, err := fastjson.ParseBytes(ctx.PostBody())
	if err != nil || v.Get("request") == nil || len(v.GetStringBytes("project")) == 0 {
		writeError(ctx, wire.Gemini, 400, "mock upstream: want a Code Assist envelope with model, project and request")
		return true
	}
	model := string(v.GetStringBytes("model"))
	ctx.Request.SetBodyRaw(v.Get("request").MarshalTo(nil))
	stream := method == "streamGenerateContent"
	s.generateWrapped(ctx, wire.Gemini, model, stream, convert.FramingSSE, func(w *bufio.Writer) *bufio.Writer {
		return bufio.NewWriter(&enveloping{w: w})
	})
	if !stream && ctx.Response.StatusCode() == fasthttp.StatusOK {
		body := append([]byte(`{"response":`), ctx.Response.Body()...)
		ctx.Response.SetBodyRaw(append(body, '}'))
	}
	return true
}

// enveloping puts every SSE data line it is given into {"response": …}
// and flushes each line to the client, so events keep their timing.
type enveloping struct {
	w       *bufio.Writer
	partial []byte
}

func (e *enveloping) Write(p []byte) (int, error) {
	e.partial = append(e.partial, p...)
	for {
		i := bytes.IndexByte(e.partial, '\n')
		if i < 0 {
			break
		}
		line := e.partial[:i+1]
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			e.w.WriteString(`data: {"response":`)
			e.w.Write(bytes.TrimRight(d, "\n"))
			e.w.WriteString("}\n")
		} else {
			e.w.Write(line)
		}
		e.partial = e.partial[i+1:]
	}
	return len(p), e.w.Flush()
}
