package proxy

import (
	"errors"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/usage"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/jsonpatch"
	"github.com/llmproxy/proxy/proxy/sysprompt"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
)

// exchange is one client request on its way through the proxy.
type exchange struct {
	ctx   *fasthttp.RequestCtx
	in    wire.Protocol
	start time.Time
	// upstream accumulates the time spent waiting on providers.
	upstream time.Duration
	stream   bool
	// includeUsage: an OpenAI chat client asked for the usage chunk.
	includeUsage bool
	framing      convert.Framing
	op           providers.Op
	rt           routed
}

// log records the exchange once it was answered in the handler.
func (x *exchange) provider() string {
	if x.rt.provider == nil {
		return ""
	}
	return x.rt.provider.Name()
}

// fail answers the exchange with an error in the client's protocol.
func (s *Server) fail(x *exchange, kind wire.Kind, msg, param string, err error) {
	writeError(x.ctx, x.in, kind, msg, param)
	s.logDone(x.ctx, x.start, x.upstream, x.in, x.provider(), x.rt.model, x.stream, err)
}

func (s *Server) chat(ctx *fasthttp.RequestCtx) {
	x := exchange{ctx: ctx, in: wire.OpenAIChat, start: time.Now()}
	parser := s.parsers.Get()
	info, bad := inspectChat(parser, ctx.PostBody())
	if bad != nil {
		s.parsers.Put(parser)
		s.fail(&x, wire.InvalidRequest, bad.message, bad.param, nil)
		return
	}
	x.stream, x.includeUsage = info.stream, info.includeUsage
	rt, kind, msg := s.route(ctx, info.model)
	// From here on nothing may touch info.model: the parser goes back.
	s.parsers.Put(parser)
	if msg != "" {
		s.fail(&x, kind, msg, "model", nil)
		return
	}
	x.rt = rt
	s.forward(&x)
}

// forward sends the exchange to its provider and answers the client.
func (s *Server) forward(x *exchange) {
	ctx, prov := x.ctx, x.rt.provider
	body, err := s.upstreamBody(x)
	if err != nil {
		var fe *convert.FieldError
		if errors.As(err, &fe) {
			s.fail(x, wire.InvalidRequest, "cannot send this request to provider "+quote(prov.Name())+
				" ("+prov.Protocol().String()+"): "+fe.Error(), fe.Field, nil)
			return
		}
		s.fail(x, wire.InvalidRequest, "request body: "+err.Error(), "", nil)
		return
	}
	call := providers.Call{
		Op:        x.op,
		Model:     x.rt.model,
		Stream:    x.stream,
		Body:      body,
		Header:    &ctx.Request.Header,
		RequestID: b2s(ctx.Response.Header.Peek("X-Request-Id")),
	}
	s.prompts.Log(call.RequestID, x.in.String(), x.rt.model, ctx.PostBody())
	sent := time.Now()
	res, err := prov.Do(&call)
	x.upstream += time.Since(sent)
	if err != nil {
		kind := wire.BadGateway
		var pe *providers.Error
		if errors.As(err, &pe) {
			kind = pe.Kind
		}
		s.fail(x, kind, upstreamFailure(kind), "", err)
		return
	}
	if len(res.RetryAfter) > 0 {
		ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, res.RetryAfter)
	}
	switch {
	case res.Status != fasthttp.StatusOK:
		s.relayUpstreamError(x, res)
		res.Release()
		s.logDone(ctx, x.start, x.upstream, x.in, prov.Name(), x.rt.model, x.stream, nil)
	case res.Stream == nil:
		s.recordUsage(prov, x.rt.model, res.Body)
		err := s.relayAnswer(x, res)
		res.Release()
		if err != nil {
			s.fail(x, wire.BadGateway, "cannot convert the upstream answer: "+err.Error(), "", err)
			return
		}
		s.logDone(ctx, x.start, x.upstream, x.in, prov.Name(), x.rt.model, x.stream, nil)
	default:
		s.startStream(x, res)
	}
}

// upstreamBody is the request body in the provider's protocol: the client's
// own bytes when both sides speak the same protocol (with the model name
// patched if routing changed it), a conversion otherwise.
func (s *Server) upstreamBody(x *exchange) ([]byte, error) {
	body := x.ctx.PostBody()
	if s.sysPrompt != "" && x.op == providers.OpGenerate {
		var err error
		if body, err = sysprompt.Apply(nil, x.in, body, s.sysPrompt, s.sysMode); err != nil {
			return nil, err
		}
	}
	to := x.rt.provider.Protocol()
	if to != x.in {
		c, _ := s.converters.Get().(*convert.Converter)
		if c == nil {
			c = new(convert.Converter)
		}
		out, err := c.Request(x.in, to, body, x.rt.model, x.stream)
		s.converters.Put(c)
		return out, err
	}
	if !x.rt.rewrite || x.in == wire.Gemini {
		// Gemini names the model in the URL, which the provider builds.
		return body, nil
	}
	return jsonpatch.Replace(nil, body, "model", wire.AppendJSONString(nil, x.rt.model))
}

// relayAnswer writes a complete (non-stream) upstream answer to the client,
// converted into its protocol if need be.
func (s *Server) relayAnswer(x *exchange, res *providers.Result) error {
	ctx := x.ctx
	from := x.rt.provider.Protocol()
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
	out, err := convert.Response(from, x.in, res.Body, x.rt.model)
	if err != nil {
		return err
	}
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(out)
	return nil
}

// startStream hands the upstream stream to a relay that fasthttp runs once
// the handler returns.
func (s *Server) startStream(x *exchange, res *providers.Result) {
	ctx := x.ctx
	from := x.rt.provider.Protocol()
	ctx.SetStatusCode(fasthttp.StatusOK)
	if x.framing == convert.FramingJSONArray {
		ctx.SetContentType("application/json")
	} else {
		ctx.SetContentType("text/event-stream")
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	l := &streamLog{
		requestID: append([]byte(nil), ctx.Response.Header.Peek("X-Request-Id")...),
		path:      append([]byte(nil), ctx.Path()...),
		proto:     x.in,
		provider:  x.provider(),
		model:     x.rt.model,
		start:     x.start,
		bytesIn:   len(ctx.Request.Body()),
		overhead:  time.Since(x.start) - x.upstream,
		client:    clientName(clientOf(ctx)),
	}
	s.metrics.StreamStarted()
	opts := stream.Options{
		Heartbeat:    s.cfg.Server.StreamHeartbeat,
		MaxEventSize: s.cfg.Server.MaxEventBytes,
		OnFinish: func(o stream.Outcome) {
			res.Release()
			if u := &l.tr.usage; u.Seen {
				s.metrics.AddTokens(l.provider, l.model, u.Counts.Input, u.Counts.Output)
			}
			s.logStream(l, o.Bytes, o.FirstEvent, o.Err)
		},
	}
	var tr stream.Translator
	length := -1
	if from == x.in && x.framing == convert.FramingSSE {
		tr = stream.PassThrough(x.in)
		if res.StreamLength > 0 {
			// Pass-through of a body of known size keeps its Content-Length.
			opts.FixedLength = res.StreamLength
			length = int(res.StreamLength)
		}
	} else {
		tr = newConverting(from, x, x.rt.model)
	}
	l.tr = metered{Translator: tr, usage: usage.Tracker{Proto: from}}
	ctx.Response.SetBodyStream(stream.NewRelay(res.Stream, &l.tr, opts), length)
}

// metered is a Translator that also counts the tokens the upstream's
// events report, for metrics.
type metered struct {
	stream.Translator
	usage usage.Tracker
}

func (m *metered) Event(dst []byte, ev *stream.Event) ([]byte, error) {
	m.usage.Observe(ev.Data)
	return m.Translator.Event(dst, ev)
}

// recordUsage adds the usage of a whole answer to the metrics.
func (s *Server) recordUsage(p providers.Provider, model string, body []byte) {
	if !usage.Has(p.Protocol(), body) {
		return
	}
	parser := s.parsers.Get()
	c, ok := usage.Extract(p.Protocol(), body, parser)
	s.parsers.Put(parser)
	if ok {
		s.metrics.AddTokens(p.Name(), model, c.Input, c.Output)
	}
}
