package proxy

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/jsonpatch"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// inspectFunc reads what routing needs from a request body of one protocol.
type inspectFunc func(p *fastjson.Parser, body []byte) (requestInfo, *badField)

func (s *Server) chat(ctx *fasthttp.RequestCtx) {
	s.generate(ctx, wire.OpenAIChat, inspectChat)
}

// generate is the hot path: inspect the body, pick a provider, forward, and
// relay the answer (whole, or as a stream) in the client's protocol.
func (s *Server) generate(ctx *fasthttp.RequestCtx, in wire.Protocol, inspect inspectFunc) {
	start := time.Now()
	var upstream time.Duration
	parser := s.parsers.Get()
	info, bad := inspect(parser, ctx.PostBody())
	if bad != nil {
		s.parsers.Put(parser)
		writeError(ctx, in, wire.InvalidRequest, bad.message, bad.param)
		s.logDone(ctx, start, upstream, in, "", "", false, nil)
		return
	}
	rt, kind, msg := s.route(ctx, info.model)
	// From here on nothing may touch info.model: the parser goes back.
	s.parsers.Put(parser)
	if msg != "" {
		writeError(ctx, in, kind, msg, "model")
		s.logDone(ctx, start, upstream, in, "", "", info.stream, nil)
		return
	}
	prov := rt.provider
	if prov.Protocol() != in {
		writeError(ctx, in, wire.InvalidRequest, "provider "+quote(prov.Name())+" speaks "+prov.Protocol().String()+
			", which this endpoint cannot convert to", "model")
		s.logDone(ctx, start, upstream, in, prov.Name(), rt.model, info.stream, nil)
		return
	}
	body := ctx.PostBody()
	if rt.rewrite {
		var err error
		if body, err = jsonpatch.Replace(nil, body, "model", wire.AppendJSONString(nil, rt.model)); err != nil {
			writeError(ctx, in, wire.InvalidRequest, "request body: "+err.Error(), "")
			s.logDone(ctx, start, upstream, in, prov.Name(), rt.model, info.stream, nil)
			return
		}
	}
	call := providers.Call{
		Op:        providers.OpGenerate,
		Model:     rt.model,
		Stream:    info.stream,
		Body:      body,
		Header:    &ctx.Request.Header,
		RequestID: b2s(ctx.Response.Header.Peek("X-Request-Id")),
	}
	s.prompts.Log(b2s(ctx.Response.Header.Peek("X-Request-Id")), in.String(), rt.model, body)
	sent := time.Now()
	res, err := prov.Do(&call)
	upstream = time.Since(sent)
	if err != nil {
		kind := wire.BadGateway
		var pe *providers.Error
		if errors.As(err, &pe) {
			kind = pe.Kind
		}
		writeError(ctx, in, kind, upstreamFailure(kind), "")
		s.logDone(ctx, start, upstream, in, prov.Name(), rt.model, info.stream, err)
		return
	}
	if len(res.RetryAfter) > 0 {
		ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, res.RetryAfter)
	}
	if res.Status != fasthttp.StatusOK {
		s.relayUpstreamError(ctx, in, res)
		res.Release()
		s.logDone(ctx, start, upstream, in, prov.Name(), rt.model, info.stream, nil)
		return
	}
	if res.Stream == nil {
		ctx.SetStatusCode(fasthttp.StatusOK)
		if len(res.ContentType) > 0 {
			ctx.Response.Header.SetContentTypeBytes(res.ContentType)
		} else {
			ctx.SetContentType("application/json")
		}
		ctx.Response.SetBody(res.Body)
		res.Release()
		s.logDone(ctx, start, upstream, in, prov.Name(), rt.model, info.stream, nil)
		return
	}
	s.startStream(ctx, in, start, upstream, prov.Name(), rt.model, res)
}

// startStream hands the upstream stream to a relay that fasthttp runs once
// the handler returns.
func (s *Server) startStream(ctx *fasthttp.RequestCtx, in wire.Protocol, start time.Time, upstream time.Duration, provider, model string, res *providers.Result) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	l := &streamLog{
		requestID: append([]byte(nil), ctx.Response.Header.Peek("X-Request-Id")...),
		path:      append([]byte(nil), ctx.Path()...),
		proto:     in,
		provider:  provider,
		model:     model,
		start:     start,
		bytesIn:   len(ctx.Request.Body()),
		overhead:  time.Since(start) - upstream,
	}
	s.metrics.StreamStarted()
	opts := stream.Options{
		Heartbeat:    s.cfg.Server.StreamHeartbeat,
		MaxEventSize: s.cfg.Server.MaxEventBytes,
		OnFinish: func(o stream.Outcome) {
			res.Release()
			s.logStream(l, o.Bytes, o.FirstEvent, o.Err)
		},
	}
	length := -1
	if res.StreamLength > 0 {
		// Pass-through of a body of known size keeps its Content-Length.
		opts.FixedLength = res.StreamLength
		length = int(res.StreamLength)
	}
	relay := stream.NewRelay(res.Stream, stream.PassThrough(in), opts)
	ctx.Response.SetBodyStream(relay, length)
}

// relayUpstreamError answers with the upstream's error status. A body that is
// already an error object of the client's protocol goes through as it came;
// anything else (an HTML page from a load balancer, a plain-text message) is
// wrapped into one.
func (s *Server) relayUpstreamError(ctx *fasthttp.RequestCtx, in wire.Protocol, res *providers.Result) {
	ctx.SetStatusCode(res.Status)
	ctx.SetContentType("application/json")
	body := bytes.TrimSpace(res.Body)
	if s.redactor.Contains(body) {
		// Upstreams quote the key they rejected; the client must not see it.
		body = s.redactor.Bytes(nil, body)
	}
	if looksLikeError(body) {
		ctx.Response.SetBody(body)
		return
	}
	msg := "upstream answered HTTP " + strconv.Itoa(res.Status)
	if len(body) > 0 {
		if len(body) > 512 {
			body = body[:512]
		}
		msg += ": " + string(body)
	}
	ctx.Response.SetBodyRaw(wire.AppendError(nil, in, wire.KindForStatus(res.Status), msg, ""))
}

// looksLikeError reports whether b is a JSON object carrying an "error" key,
// the shape every supported protocol uses for errors.
func looksLikeError(b []byte) bool {
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	v, err := fastjson.ParseBytes(b)
	return err == nil && v.Get("error") != nil
}

func upstreamFailure(k wire.Kind) string {
	switch k {
	case wire.Timeout:
		return "upstream timed out"
	case wire.Unavailable:
		return "upstream connection pool exhausted; retry later"
	}
	return "upstream unreachable"
}

// setRequestID keeps the client's X-Request-Id or makes one, and returns it
// on the response.
func (s *Server) setRequestID(ctx *fasthttp.RequestCtx) {
	if id := ctx.Request.Header.Peek("X-Request-Id"); len(id) > 0 && len(id) <= 128 {
		ctx.Response.Header.SetBytesV("X-Request-Id", id)
		return
	}
	var buf [40]byte
	ctx.Response.Header.SetBytesV("X-Request-Id", s.ids.append(buf[:0]))
}
