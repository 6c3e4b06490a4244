package proxy

import (
	"strconv"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/tokencount"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
)

// Token counting: Anthropic's POST /v1/messages/count_tokens, Gemini's
// models/{model}:countTokens and OpenAI's POST /v1/responses/input_tokens.
// An upstream of the client's own protocol counts (the request is passed
// through); for any other upstream the proxy counts locally
// (providers/tokencount), as the routed model's vendor would.

// countTokens answers Anthropic's POST /v1/messages/count_tokens.
func (s *Server) countTokens(ctx *fasthttp.RequestCtx) {
	s.generic(ctx, wire.Anthropic, providers.OpCountTokens)
}

// inputTokens answers OpenAI's POST /v1/responses/input_tokens.
func (s *Server) inputTokens(ctx *fasthttp.RequestCtx) {
	s.generic(ctx, wire.OpenAIResponses, providers.OpCountTokens)
}

// countLocally answers a token count that no upstream of the client's
// protocol can make, in the client's protocol's shape.
func (s *Server) countLocally(x *exchange) {
	family := tokencount.FamilyFor(x.route.model, x.route.provider.Protocol())
	n, err := s.tokens.Count(x.in, family, x.ctx.PostBody())
	if err != nil {
		s.badRequest(x, err)
		return
	}
	b := make([]byte, 0, 64)
	switch x.in {
	case wire.Gemini:
		b = strconv.AppendInt(append(b, `{"totalTokens":`...), int64(n), 10)
	case wire.OpenAIResponses:
		b = strconv.AppendInt(append(b, `{"object":"response.input_tokens","input_tokens":`...), int64(n), 10)
	default:
		b = strconv.AppendInt(append(b, `{"input_tokens":`...), int64(n), 10)
	}
	b = append(b, '}')
	x.ctx.SetContentType("application/json")
	x.ctx.Response.SetBodyRaw(b)
	s.logDone(x.ctx, x.start, 0, x.in, x.provider(), x.route.model, false, nil)
}
