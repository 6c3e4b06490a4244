package proxy

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// chat answers OpenAI's POST /v1/chat/completions.
func (s *Server) chat(ctx *fasthttp.RequestCtx) {
	x := exchange{ctx: ctx, in: wire.OpenAIChat, start: time.Now(), snap: s.current()}
	parser := s.parsers.Get()
	info, bad := inspectChat(parser, ctx.PostBody())
	if bad != nil {
		s.putParser(parser, len(ctx.PostBody()))
		s.fail(&x, wire.InvalidRequest, bad.message, bad.param, nil)
		return
	}
	x.stream, x.includeUsage = info.stream, info.includeUsage
	rt, kind, msg := x.snap.route(ctx, info.model)
	if msg != "" {
		x.requested = string(info.model)
	}
	// From here on nothing may touch info.model: the parser goes back.
	s.putParser(parser, len(ctx.PostBody()))
	if msg != "" {
		s.fail(&x, kind, msg, "model", nil)
		return
	}
	x.route = rt
	s.forward(&x)
}

// messages answers Anthropic's POST /v1/messages.
func (s *Server) messages(ctx *fasthttp.RequestCtx) {
	s.generic(ctx, wire.Anthropic, providers.OpGenerate)
}

// responses answers OpenAI's POST /v1/responses.
func (s *Server) responses(ctx *fasthttp.RequestCtx) {
	s.generic(ctx, wire.OpenAIResponses, providers.OpGenerate)
}

// generic handles the ingress protocols whose body names the model.
func (s *Server) generic(ctx *fasthttp.RequestCtx, in wire.Protocol, op providers.Op) {
	x := exchange{ctx: ctx, in: in, start: time.Now(), op: op, snap: s.current()}
	if op == providers.OpCountTokens && in == wire.Anthropic {
		// A count_tokens body has no max_tokens, which Inspect requires of
		// a Messages request; it needs a model and messages, as chat does.
		parser := s.parsers.Get()
		info, bad := inspectChat(parser, ctx.PostBody())
		model := string(info.model)
		s.putParser(parser, len(ctx.PostBody()))
		if bad != nil {
			s.fail(&x, wire.InvalidRequest, bad.message, bad.param, nil)
			return
		}
		s.routeAndForward(&x, model)
		return
	}
	if op == providers.OpCountTokens && in == wire.OpenAIResponses {
		// input_tokens takes a create body in which even input is
		// optional (instructions and tools count too): only the model is
		// needed, to route it.
		m := fastjson.GetString(ctx.PostBody(), "model")
		if m == "" {
			s.fail(&x, wire.InvalidRequest, "model is required (a string)", "model", nil)
			return
		}
		s.routeAndForward(&x, m)
		return
	}
	model, stream, err := convert.Inspect(in, ctx.PostBody())
	if err != nil {
		s.badRequest(&x, err)
		return
	}
	x.stream = stream && op == providers.OpGenerate
	s.routeAndForward(&x, model)
}

// gemini answers POST /v1beta/models/{model}:{method} (and /v1/...): the
// model and the method (generateContent, streamGenerateContent,
// countTokens) come from the URL, and ?alt=sse picks SSE framing over a
// JSON array for streams.
func (s *Server) gemini(ctx *fasthttp.RequestCtx) {
	x := exchange{ctx: ctx, in: wire.Gemini, start: time.Now(), snap: s.current()}
	action, _ := ctx.UserValue("action").(string)
	i := strings.LastIndexByte(action, ':')
	if i <= 0 {
		s.fail(&x, wire.NotFound, "unknown path "+strconv.Quote(string(ctx.Path()))+": want models/{model}:{method}", "", nil)
		return
	}
	model, method := action[:i], action[i+1:]
	switch method {
	case "generateContent":
	case "streamGenerateContent":
		x.stream = true
		if string(ctx.QueryArgs().Peek("alt")) != "sse" {
			x.framing = convert.FramingJSONArray
		}
	case "countTokens":
		x.op = providers.OpCountTokens
	default:
		s.fail(&x, wire.NotFound, "unknown method "+strconv.Quote(method), "", nil)
		return
	}
	if _, _, err := convert.Inspect(wire.Gemini, geminiInspected(x.op, ctx.PostBody())); err != nil {
		s.badRequest(&x, err)
		return
	}
	s.routeAndForward(&x, model)
}

// geminiInspected is the part of a Gemini body that Inspect checks: a
// countTokens body may wrap a whole request in generateContentRequest
// (what the SDKs send when tools or a system instruction are counted).
func geminiInspected(op providers.Op, body []byte) []byte {
	if op != providers.OpCountTokens {
		return body
	}
	v, err := fastjson.ParseBytes(body)
	if err != nil {
		return body
	}
	if inner := v.Get("generateContentRequest"); inner != nil && inner.Type() == fastjson.TypeObject {
		return inner.MarshalTo(nil)
	}
	return body
}

func (s *Server) badRequest(x *exchange, err error) {
	var fe *convert.FieldError
	if errors.As(err, &fe) {
		// Error() names the field: only OpenAI bodies carry it as param.
		s.fail(x, wire.InvalidRequest, fe.Error(), fe.Field, nil)
		return
	}
	s.fail(x, wire.InvalidRequest, err.Error(), "", nil)
}

func (s *Server) routeAndForward(x *exchange, model string) {
	x.requested = model
	rt, kind, msg := x.snap.route(x.ctx, []byte(model))
	if msg != "" {
		s.fail(x, kind, msg, "model", nil)
		return
	}
	x.route = rt
	if x.op == providers.OpCountTokens && rt.provider.Protocol() != x.in {
		s.countLocally(x)
		return
	}
	s.forward(x)
}
