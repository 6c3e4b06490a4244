package proxy

import (
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// The OpenAI endpoints beside generation: embeddings and the legacy text
// completions. OpenAI-compatible upstreams (both OpenAI provider types and
// the mock) take them as they are; a Gemini upstream computes embeddings
// through batchEmbedContents; Anthropic has neither.

// embeddings answers OpenAI's POST /v1/embeddings.
func (s *Server) embeddings(ctx *fasthttp.RequestCtx) {
	s.auxiliary(ctx, providers.OpEmbed, "input")
}

// completions answers OpenAI's POST /v1/completions.
func (s *Server) completions(ctx *fasthttp.RequestCtx) {
	s.auxiliary(ctx, providers.OpComplete, "prompt")
}

func (s *Server) auxiliary(ctx *fasthttp.RequestCtx, op providers.Op, required string) {
	x := exchange{ctx: ctx, in: wire.OpenAIChat, start: time.Now(), op: op, snap: s.current()}
	parser := s.parsers.Get()
	model, stream, bad := inspectAuxiliary(parser, ctx.PostBody(), required)
	s.putParser(parser, len(ctx.PostBody()))
	if bad != nil {
		s.fail(&x, wire.InvalidRequest, bad.message, bad.param, nil)
		return
	}
	x.stream = stream && op == providers.OpComplete
	x.includeUsage = true // a pass-through stream is relayed as sent
	s.routeAndForward(&x, model)
}

// inspectAuxiliary reads the model, the stream flag and checks that the
// operation's required field is there.
func inspectAuxiliary(p *fastjson.Parser, body []byte, required string) (model string, stream bool, bad *badField) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return "", false, &badField{"", "request body is not valid JSON: " + err.Error()}
	}
	if v.Type() != fastjson.TypeObject {
		return "", false, &badField{"", "request body must be a JSON object"}
	}
	m := v.Get("model")
	if m == nil || m.Type() != fastjson.TypeString || len(m.GetStringBytes()) == 0 {
		return "", false, &badField{"model", "you must provide a model parameter (a non-empty string)"}
	}
	in := v.Get(required)
	if in == nil || (in.Type() != fastjson.TypeString && in.Type() != fastjson.TypeArray) {
		return "", false, &badField{required, "missing required parameter: '" + required + "' (a string or an array)"}
	}
	if a, err := in.Array(); err == nil && len(a) == 0 {
		return "", false, &badField{required, "'" + required + "' must not be empty"}
	}
	if st := v.Get("stream"); st != nil {
		switch st.Type() {
		case fastjson.TypeTrue:
			stream = true
		case fastjson.TypeFalse, fastjson.TypeNull:
		default:
			return "", false, &badField{"stream", "stream must be a boolean"}
		}
	}
	return string(m.GetStringBytes()), stream, nil
}

func isAuxiliary(op providers.Op) bool { return op == providers.OpEmbed || op == providers.OpComplete }

// auxiliaryBody is the upstream body of an embeddings or completions
// request: the client's, model patched if routing changed it, for an
// OpenAI-compatible upstream; a batchEmbedContents body for Gemini.
func auxiliaryBody(x *exchange, body []byte) ([]byte, error) {
	switch to := x.route.provider.Protocol(); {
	case to == wire.OpenAIChat || to == wire.OpenAIResponses:
		if !x.route.rewrite {
			return body, nil
		}
		return jsonpatch.Replace(nil, body, "model", wire.AppendJSONString(nil, x.route.model))
	case to == wire.Gemini && x.op == providers.OpEmbed:
		return convert.EmbeddingsToGemini(body, x.route.model)
	}
	what := "embeddings"
	if x.op == providers.OpComplete {
		what = "text completions"
	}
	return nil, &convert.FieldError{Field: "model", Message: "this upstream's API has no " + what + " endpoint"}
}

// relayAuxiliary writes an embeddings or completions answer: as the
// upstream sent it, or converted from Gemini's embeddings.
func relayAuxiliary(x *exchange, res *providers.Result) error {
	ctx := x.ctx
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	if x.route.provider.Protocol() != wire.Gemini {
		ctx.Response.SetBody(res.Body)
		return nil
	}
	b64 := string(fastjson.GetBytes(ctx.PostBody(), "encoding_format")) == "base64"
	out, err := convert.EmbeddingsFromGemini(res.Body, x.route.model, b64)
	if err != nil {
		return err
	}
	ctx.Response.SetBodyRaw(out)
	return nil
}
