package proxy

import (
	"errors"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/usage"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/sysprompt"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
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
	// run is the runtime the request started with, used to its end.
	run *snapshot
	// requested is the model the client asked for, kept for the access
	// line of a request that was refused before routing settled it.
	requested string
	// prompted: the body went to the prompt log.
	prompted bool
	// tools maps the names a conversion gave a Responses client's
	// namespace and custom tools back to the client's; nil when none.
	tools *convert.ToolMap
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
	model := x.rt.model
	if model == "" {
		model = x.requested
	}
	if !x.prompted {
		// A refused request's body is what its operator needs to see.
		s.prompts.Log(b2s(x.ctx.Response.Header.Peek("X-Request-Id")), x.in.String(), model, x.ctx.PostBody())
	}
	s.logDone(x.ctx, x.start, x.upstream, x.in, x.provider(), model, x.stream, err)
}

func (s *Server) chat(ctx *fasthttp.RequestCtx) {
	x := exchange{ctx: ctx, in: wire.OpenAIChat, start: time.Now(), run: s.current()}
	parser := s.parsers.Get()
	info, bad := inspectChat(parser, ctx.PostBody())
	if bad != nil {
		s.putParser(parser, len(ctx.PostBody()))
		s.fail(&x, wire.InvalidRequest, bad.message, bad.param, nil)
		return
	}
	x.stream, x.includeUsage = info.stream, info.includeUsage
	rt, kind, msg := x.run.route(ctx, info.model)
	if msg != "" {
		x.requested = string(info.model)
	}
	// From here on nothing may touch info.model: the parser goes back.
	s.putParser(parser, len(ctx.PostBody()))
	if msg != "" {
		s.fail(&x, kind, msg, "model", nil)
		return
	}
	x.rt = rt
	s.forward(&x)
}

// upstreamBody is the request body in the provider's protocol: the client's
// own bytes when both sides speak the same protocol (with the model name
// patched if routing changed it), a conversion otherwise.
func (s *Server) upstreamBody(x *exchange) ([]byte, error) {
	body := x.ctx.PostBody()
	if x.run.sysPrompt != "" && x.op == providers.OpGenerate {
		var err error
		if body, err = sysprompt.Apply(nil, x.in, body, x.run.sysPrompt, x.run.sysMode); err != nil {
			return nil, err
		}
	}
	to := x.rt.provider.Protocol()
	x.tools = nil
	if isAuxiliary(x.op) {
		return auxiliaryBody(x, body)
	}
	if to != x.in {
		c, _ := s.converters.Get().(*convert.Converter)
		if c == nil {
			c = new(convert.Converter)
		}
		c.Target = x.run.target(x.rt)
		out, err := c.Request(x.in, to, body, x.rt.model, x.stream)
		x.tools = c.Tools
		c.Tools = nil
		noteDroppedTools(x)
		if len(body) <= pooledBodyMax {
			s.converters.Put(c)
		}
		return out, err
	}
	if x.in == wire.Anthropic && x.op == providers.OpGenerate {
		var err error
		if body, err = raiseThinkingBudget(body); err != nil {
			return nil, err
		}
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
	if isAuxiliary(x.op) {
		return relayAuxiliary(x, res)
	}
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
	var c convert.Converter
	out, err := c.ResponseMapped(from, x.in, res.Body, x.rt.model, x.tools)
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
		h.done(keypool.StatusOutcome(res.Status, 0))
		if res.Status != fasthttp.StatusOK {
			s.relayUpstreamError(x, res)
			res.Release()
			s.logDone(ctx, x.start, x.upstream, x.in, x.provider(), x.rt.model, x.stream, nil)
			return
		}
		s.recordUsage(x.rt.provider, x.rt.model, res.Body)
		err := s.relayAnswer(x, res)
		res.Release()
		if err != nil {
			s.fail(x, wire.BadGateway, "cannot convert the upstream answer: "+err.Error(), "", err)
			return
		}
		s.logDone(ctx, x.start, x.upstream, x.in, x.provider(), x.rt.model, x.stream, nil)
		return
	}
	s.startStream(x, h, res, rd)
}

// startStream hands the upstream stream to a relay that fasthttp runs once
// the handler returns. The relay starts with the bytes the hold-back read.
func (s *Server) startStream(x *exchange, h *held, res *providers.Result, rd *stream.Reader) {
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
	// The relay finishes after forward returned: what it holds moves to
	// the heap, and forward's own copy is marked as handed over.
	h.streaming = true
	kept := new(held)
	*kept = *h
	opts := stream.Options{
		Heartbeat:    x.run.cfg.Server.StreamHeartbeat,
		MaxEventSize: x.run.cfg.Server.MaxEventBytes,
		Reader:       rd,
		Stop:         s.stop,
		Conn:         ctx.Conn(),
		WriteTimeout: x.run.cfg.Server.WriteTimeout,
		Redact:       x.run.redactor.Bytes,
		OnFinish: func(o stream.Outcome) {
			defer recoverAndLog(s.log, "stream finish")
			s.logRelayPanic(l.requestID, o.Err)
			out := streamOutcome(o.Err)
			if kept.failed {
				out = keypool.StatusOutcome(fasthttp.StatusBadGateway, 0)
			}
			kept.done(out)
			res.Release()
			if u := &l.tr.usage; u.Seen {
				s.metrics.AddTokens(l.provider, l.model, u.Counts.Input, u.Counts.Output)
			}
			s.logStream(l, o.Bytes, o.FirstEvent, o.Err)
		},
	}
	var tr stream.Translator
	length := -1
	if x.op == providers.OpComplete {
		// Legacy completions stream as Chat does (data: chunks, [DONE])
		// and are relayed as sent, whichever OpenAI provider type.
		from = wire.OpenAIChat
	}
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
	s.putParser(parser, len(body))
	if ok {
		s.metrics.AddTokens(p.Name(), model, c.Input, c.Output)
	}
}

// streamOutcome is what a finished stream says about its key: a failure
// only when the upstream broke it.
func streamOutcome(err error) keypool.Outcome {
	switch {
	case err == nil, errors.Is(err, stream.ErrClientGone), errors.Is(err, stream.ErrStopped):
		return keypool.Outcome{Kind: keypool.OK, Status: fasthttp.StatusOK}
	}
	return keypool.ErrorOutcome()
}

// pooledBodyMax is the largest body whose parser goes back to its pool: a
// fastjson parser keeps the value cache its largest input needed, and a
// pool of parsers that once read a 10 MB body would hold that memory for
// good.
const pooledBodyMax = 1 << 20

// putParser returns a parser to the pool unless it parsed a large body.
func (s *Server) putParser(p *fastjson.Parser, bodyLen int) {
	if bodyLen <= pooledBodyMax {
		s.parsers.Put(p)
	}
}
