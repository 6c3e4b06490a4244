package proxy

import (
	"errors"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/usage"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/cache"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
)

// streamSource is the protocol of the upstream's stream events.
func (x *exchange) streamSource() wire.Protocol {
	if x.op == providers.OpComplete {
		// Legacy completions stream as Chat does (data: chunks, [DONE])
		// and are relayed as sent, whichever OpenAI provider type.
		return wire.OpenAIChat
	}
	return x.route.provider.Protocol()
}

// passesThrough reports whether the upstream's stream reaches the client as
// it came: events in the client's protocol, framed as SSE.
func (x *exchange) passesThrough() bool {
	return x.streamSource() == x.in && x.framing == convert.FramingSSE
}

// startStream hands the upstream stream to a relay that fasthttp runs once
// the handler returns. The relay starts with the bytes the hold-back read.
func (s *Server) startStream(x *exchange, h *held, res *providers.Result, rd *stream.Reader) {
	ctx := x.ctx
	from := x.streamSource()
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctype := contentSSE
	if x.framing == convert.FramingJSONArray {
		ctype = contentJSON
	}
	ctx.Response.Header.SetContentTypeBytes(ctype)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	// What the stream keeps once the handler returned (its log line, the
	// held resources, the relay and its translator) is one allocation.
	st := &relayState{s: s, res: res, ctype: ctype}
	id, path := ctx.Response.Header.Peek("X-Request-Id"), ctx.Path()
	idPath := append(append(st.idPath[:0], id...), path...) // on the heap only when long
	l := &st.log
	*l = streamLog{
		requestID: idPath[:len(id):len(id)],
		path:      idPath[len(id):],
		proto:     x.in,
		provider:  x.provider(),
		model:     x.route.model,
		start:     x.start,
		bytesIn:   len(ctx.Request.Body()),
		overhead:  time.Since(x.start) - x.upstream,
		client:    clientName(clientOf(ctx)),
		cl:        clientOf(ctx),
		account:   leaseLabel(&h.lease),
		cache:     cacheVerdict(ctx),
	}
	s.metrics.StreamStarted()
	// The relay finishes after forward returned: what it holds moves to
	// the heap, and forward's own copy is marked as handed over.
	h.streaming = true
	st.kept = *h
	if x.cache.keep {
		st.cache = x.cache
		st.rec = &cacheRecording{rec: cache.NewRecorder(x.cache.rule.maxEntry, x.cache.recording, time.Now())}
	}
	opts := stream.Options{
		Heartbeat:    x.snap.cfg.Server.StreamHeartbeat,
		MaxEventSize: x.snap.cfg.Server.MaxEventBytes,
		Reader:       rd,
		Stop:         s.stop,
		Conn:         ctx.Conn(),
		WriteTimeout: x.snap.cfg.Server.WriteTimeout,
		Redact:       x.snap.redactBytes,
		BodyLength:   res.StreamLength,
		OnFinish:     st,
	}
	var tr stream.Translator
	length := -1
	if x.passesThrough() {
		st.watch.Init(x.in)
		tr = &st.watch
		if res.StreamLength > 0 {
			// Pass-through of a body of known size keeps its Content-Length.
			opts.FixedLength = res.StreamLength
			length = int(res.StreamLength)
		}
	} else {
		tr = newConverting(from, x, x.route.model)
	}
	l.tr = metered{Translator: tr, usage: usage.Tracker{Proto: from}}
	var relayed stream.Translator = &l.tr
	if st.rec != nil {
		st.rec.Translator = relayed
		relayed = st.rec
	}
	st.relay.Init(res.Stream, relayed, opts)
	ctx.Response.SetBodyStream(&st.relay, length)
}

// relayState is what a stream keeps once the handler has returned, in one
// allocation: a closure for the finish, the relay, the pass-through
// translator and the request ID's bytes cost one each before.
type relayState struct {
	log   streamLog
	kept  held
	relay stream.Relay
	watch stream.Watcher // the translator of a pass-through stream
	s     *Server
	res   *providers.Result
	ctype []byte
	cache cacheState
	rec   *cacheRecording // nil unless the answer is being recorded for the cache
	// idPath holds the request ID and path of the log line (an ID of 36
	// bytes and a path of 60 fit; longer ones go to the heap).
	idPath [96]byte
}

// Finish is the relay's end: the held resources, the cache entry, the
// token counts and the access line.
func (st *relayState) Finish(o stream.Outcome) {
	s, l, kept := st.s, &st.log, &st.kept
	defer recoverAndLog(s.log, "stream finish")
	s.logRelayPanic(l.requestID, o.Err)
	out := streamOutcome(o.Err)
	if kept.failed {
		out = keypool.StatusOutcome(fasthttp.StatusBadGateway, 0)
	}
	kept.done(out)
	st.res.Release()
	if rec := st.rec; rec != nil {
		if o.Err == nil && !kept.failed && rec.complete() {
			st.cache.store.Put(st.cache.key, rec.rec.Encode(st.ctype), st.cache.rule.ttl)
		}
		rec.rec.Release()
	}
	if u := &l.tr.usage; u.Seen {
		s.metrics.AddTokens(l.provider, l.model, u.Counts.Input, u.Counts.Output)
	}
	s.logStream(l, o.Bytes, o.FirstEvent, o.Err)
}

// The content types of a stream: SSE, or Gemini's JSON array.
var (
	contentSSE  = []byte("text/event-stream")
	contentJSON = []byte("application/json")
)

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

// streamOutcome is what a finished stream says about its key: a failure
// only when the upstream broke it.
func streamOutcome(err error) keypool.Outcome {
	switch {
	case err == nil, errors.Is(err, stream.ErrClientGone), errors.Is(err, stream.ErrStopped):
		return keypool.Outcome{Kind: keypool.OK, Status: fasthttp.StatusOK}
	}
	return keypool.ErrorOutcome()
}
