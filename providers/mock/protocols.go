package mock

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// The Responses, Anthropic and Gemini endpoints make the same deterministic
// OpenAI Chat answer as /v1/chat/completions and convert it with the
// proxy's converter, so one answer reads the same in every protocol. The
// OpenAI Chat path stays conversion-free: it is the one load tests measure.

// route answers the POST endpoints of the non-OpenAI-Chat protocols and
// reports whether path was one of them.
func (s *Server) route(ctx *fasthttp.RequestCtx, path []byte) bool {
	switch {
	case string(path) == "/v1/responses":
		s.generate(ctx, wire.OpenAIResponses, "", false, convert.FramingSSE)
	case string(path) == "/v1/messages":
		if s.anthropicHeaders(ctx) {
			s.generate(ctx, wire.Anthropic, "", false, convert.FramingSSE)
		}
	case string(path) == "/v1/messages/count_tokens":
		if s.anthropicHeaders(ctx) {
			s.countTokens(ctx, wire.Anthropic)
		}
	case bytes.HasPrefix(path, []byte("/v1internal:")):
		return s.codeAssist(ctx, string(path[len("/v1internal:"):]))
	case bytes.HasPrefix(path, []byte("/v1beta/models/")) || bytes.HasPrefix(path, []byte("/v1/models/")):
		s.gemini(ctx, path[bytes.Index(path, []byte("/models/"))+len("/models/"):])
	default:
		return false
	}
	return true
}

// gemini answers models/{model}:{method}.
func (s *Server) gemini(ctx *fasthttp.RequestCtx, action []byte) {
	i := bytes.LastIndexByte(action, ':')
	if i <= 0 {
		writeError(ctx, wire.Gemini, 404, "mock upstream: want models/{model}:{method}")
		return
	}
	if !s.geminiKey(ctx) {
		return
	}
	model, method := string(action[:i]), string(action[i+1:])
	switch method {
	case "generateContent":
		s.generate(ctx, wire.Gemini, model, false, convert.FramingSSE)
	case "streamGenerateContent":
		framing := convert.FramingJSONArray
		if string(ctx.QueryArgs().Peek("alt")) == "sse" {
			framing = convert.FramingSSE
		}
		s.generate(ctx, wire.Gemini, model, true, framing)
	case "countTokens":
		s.countTokens(ctx, wire.Gemini)
	default:
		writeError(ctx, wire.Gemini, 404, "mock upstream: unknown method "+strconv.Quote(method))
	}
}

// anthropicHeaders checks the headers the Anthropic API insists on (a key,
// as x-api-key or, for OAuth clients, a bearer token; and
// anthropic-version) and answers its error when one is missing.
func (s *Server) anthropicHeaders(ctx *fasthttp.RequestCtx) bool {
	h := &ctx.Request.Header
	if len(h.Peek("x-api-key")) == 0 && !bytes.HasPrefix(h.Peek(fasthttp.HeaderAuthorization), []byte("Bearer ")) {
		writeError(ctx, wire.Anthropic, 401, "x-api-key header is required")
		return false
	}
	if len(h.Peek("anthropic-version")) == 0 {
		writeError(ctx, wire.Anthropic, 400, "anthropic-version: header is required")
		return false
	}
	return true
}

// geminiKey checks for an API key in either place Gemini takes one; the
// real API refuses keyless callers with 403.
func (s *Server) geminiKey(ctx *fasthttp.RequestCtx) bool {
	if len(ctx.Request.Header.Peek("x-goog-api-key")) > 0 || len(ctx.QueryArgs().Peek("key")) > 0 {
		return true
	}
	writeError(ctx, wire.Gemini, 403, "mock upstream: no API key (x-goog-api-key header or key parameter)")
	return false
}

// writeError answers status with an error body in proto's shape.
func writeError(ctx *fasthttp.RequestCtx, proto wire.Protocol, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(wire.AppendError(nil, proto, wire.KindForStatus(status), msg, ""))
}

// writeInjected answers an injected status in proto's error shape.
func writeInjected(ctx *fasthttp.RequestCtx, proto wire.Protocol, status int) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(appendInjected(nil, proto, status))
}

// behaviour is the server's behaviour with the request's overrides, after
// any stall, with the random error rate applied.
func (s *Server) behaviour(ctx *fasthttp.RequestCtx) Behaviour {
	b := s.opts.Behaviour
	b.Override(func(k string) []byte { return ctx.Request.Header.Peek(k) })
	if b.Stall > 0 {
		time.Sleep(b.Stall)
	}
	if b.Status == 0 && s.opts.ErrorRate > 0 && rand.Float64() < s.opts.ErrorRate {
		b.Status = s.opts.ErrorStatus
	}
	return b
}

func injected(b Behaviour) bool { return b.Status != 0 && b.Status != 200 }

// countTokens answers a token count: the same four-bytes-a-token estimate
// the answers report as prompt tokens.
func (s *Server) countTokens(ctx *fasthttp.RequestCtx, proto wire.Protocol) {
	b := s.behaviour(ctx)
	if injected(b) {
		writeInjected(ctx, proto, b.Status)
		return
	}
	p := s.parsers.Get()
	_, err := p.ParseBytes(ctx.PostBody())
	s.parsers.Put(p)
	if err != nil {
		writeError(ctx, proto, 400, "mock upstream: malformed JSON body")
		return
	}
	out := []byte(`{"input_tokens":`)
	if proto == wire.Gemini {
		out = []byte(`{"totalTokens":`)
	}
	out = strconv.AppendInt(out, int64(len(ctx.PostBody())/4+1), 10)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(append(out, '}'))
}

// generate answers a generation request of proto. For Gemini the model and
// the stream flag come from the URL.
func (s *Server) generate(ctx *fasthttp.RequestCtx, proto wire.Protocol, model string, stream bool, framing convert.Framing) {
	s.generateWrapped(ctx, proto, model, stream, framing, nil)
}

// generateWrapped is generate with each streamed write passed through wrap
// (nil: none), for APIs that wrap every event (Code Assist).
func (s *Server) generateWrapped(ctx *fasthttp.RequestCtx, proto wire.Protocol, model string, stream bool, framing convert.Framing,
	wrap func(*bufio.Writer) *bufio.Writer) {
	s.requests.Add(1)
	b := s.behaviour(ctx)
	if injected(b) {
		writeInjected(ctx, proto, b.Status)
		return
	}
	p := s.parsers.Get()
	parsed, err := ParseRequest(p, proto, ctx.PostBody())
	s.parsers.Put(p)
	if err != nil {
		writeError(ctx, proto, 400, "mock upstream: malformed JSON body")
		return
	}
	if proto == wire.Gemini {
		parsed.Model, parsed.Stream = model, stream
	}
	a := b.Answer(parsed)
	if a.Script != nil && a.Script.Custom {
		writeCustomCall(ctx, a, parsed.Stream)
		return
	}
	if !parsed.Stream {
		out, err := convert.Response(wire.OpenAIChat, proto, a.AppendCompletion(nil), a.Model)
		if err != nil {
			writeError(ctx, proto, 500, "mock upstream: "+err.Error())
			return
		}
		ctx.SetContentType("application/json")
		ctx.Response.SetBodyRaw(out)
		return
	}
	if framing == convert.FramingJSONArray {
		ctx.SetContentType("application/json")
	} else {
		ctx.SetContentType("text/event-stream")
	}
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		if wrap != nil {
			w = wrap(w)
		}
		writeConverted(w, a, proto, framing)
		_ = w.Flush()
	})
}

// writeConverted streams a's events converted into proto. A truncated
// answer stops without the protocol's terminator, as a dropped upstream
// connection would.
func writeConverted(w *bufio.Writer, a Answer, proto wire.Protocol, framing convert.Framing) {
	cs := convert.NewStream(wire.OpenAIChat, proto, a.Model, framing)
	var ev, out []byte
	limit := a.Events()
	truncated := false
	for i := 0; i < limit; i++ {
		if a.TruncateAfter > 0 && i > a.TruncateAfter {
			truncated = true
			break
		}
		if a.Delay > 0 && i > 0 {
			time.Sleep(a.Delay)
		}
		ev, _ = a.AppendEvent(ev[:0], i)
		// Every event AppendEvent makes is one "data: ...\n\n" line.
		data := ev[len("data: ") : len(ev)-2]
		var err error
		if out, err = cs.Event(out[:0], nil, data); err != nil {
			return
		}
		if _, err := w.Write(out); err != nil {
			return
		}
		if a.Delay > 0 && len(out) > 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
	if !truncated {
		out, _ = cs.End(out[:0])
		if _, err := w.Write(out); err != nil {
			return
		}
	}
	_ = w.Flush()
}
