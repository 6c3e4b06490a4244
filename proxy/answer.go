package proxy

import (
	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/usage"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
)

// relayAnswer writes a complete (non-stream) upstream answer to the client,
// converted into its protocol if need be.
func (s *Server) relayAnswer(x *exchange, res *providers.Result) error {
	if isAuxiliary(x.op) {
		return relayAuxiliary(x, res)
	}
	ctx := x.ctx
	from := x.route.provider.Protocol()
	ctx.SetStatusCode(fasthttp.StatusOK)
	if from == x.in {
		if len(res.ContentType) > 0 {
			ctx.Response.Header.SetContentTypeBytes(res.ContentType)
		} else {
			ctx.SetContentType("application/json")
		}
		ctx.Response.SetBody(res.Body)
		return nil
	}
	var c convert.Converter
	out, err := c.ResponseMapped(from, x.in, res.Body, x.route.model, x.tools)
	if err != nil {
		return err
	}
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(out)
	return nil
}

// answer relays a committed upstream answer: a whole body, or a stream
// whose first event rd already holds.
func (s *Server) answer(x *exchange, h *held, res *providers.Result, rd *stream.Reader) {
	ctx := x.ctx
	if len(res.RetryAfter) > 0 {
		ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, res.RetryAfter)
	}
	if res.Stream == nil {
		account := leaseLabel(&h.lease) // done releases the lease
		h.done(keypool.StatusOutcome(res.Status, 0))
		if res.Status != fasthttp.StatusOK {
			s.relayUpstreamError(x, res)
			res.Release()
			s.logDone(ctx, x.start, x.upstream, x.in, x.provider(), x.route.model, x.stream, nil)
			return
		}
		counts := s.recordUsage(x.route.provider, x.route.model, res.Body)
		err := s.relayAnswer(x, res)
		res.Release()
		if err != nil {
			s.fail(x, wire.BadGateway, "cannot convert the upstream answer: "+err.Error(), "", err)
			return
		}
		if x.cache.keep {
			s.storeAnswer(x)
		}
		s.logAnswered(ctx, x.start, x.upstream, x.in, x.provider(), x.route.model, x.stream, nil, counts, account)
		return
	}
	s.startStream(x, h, res, rd)
}

// recordUsage adds the usage of a whole answer to the metrics and returns it.
func (s *Server) recordUsage(p providers.Provider, model string, body []byte) usage.Counts {
	if !usage.Has(p.Protocol(), body) {
		return usage.Counts{}
	}
	parser := s.parsers.Get()
	c, ok := usage.Extract(p.Protocol(), body, parser)
	s.putParser(parser, len(body))
	if !ok {
		return usage.Counts{}
	}
	s.metrics.AddTokens(p.Name(), model, c.Input, c.Output)
	return c
}
