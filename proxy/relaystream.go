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
	// The log line's fields and the held resources outlive the handler:
	// one allocation for both, one for the request ID and path bytes.
	st := &relayState{}
	id, path := ctx.Response.Header.Peek("X-Request-Id"), ctx.Path()
	idPath := append(append(make([]byte, 0, len(id)+len(path)), id...), path...)
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
	kept := &st.kept
	*kept = *h
	var rec *cacheRecording
	cs := x.cache
	if cs.keep {
		rec = &cacheRecording{rec: cache.NewRecorder(cs.rule.maxEntry, cs.recording, time.Now())}
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
		OnFinish: func(o stream.Outcome) {
			defer recoverAndLog(s.log, "stream finish")
			s.logRelayPanic(l.requestID, o.Err)
			out := streamOutcome(o.Err)
			if kept.failed {
				out = keypool.StatusOutcome(fasthttp.StatusBadGateway, 0)
			}
			kept.done(out)
			res.Release()
			if rec != nil {
				if o.Err == nil && !kept.failed && rec.complete() {
					cs.store.Put(cs.key, rec.rec.Encode(ctype), cs.rule.ttl)
				}
				rec.rec.Release()
			}
			if u := &l.tr.usage; u.Seen {
				s.metrics.AddTokens(l.provider, l.model, u.Counts.Input, u.Counts.Output)
			}
			s.logStream(l, o.Bytes, o.FirstEvent, o.Err)
		},
	}
	var tr stream.Translator
	length := -1
	if x.passesThrough() {
		tr = stream.PassThrough(x.in)
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
	if rec != nil {
		rec.Translator = relayed
		relayed = rec
	}
	ctx.Response.SetBodyStream(stream.NewRelay(res.Stream, relayed, opts), length)
}

// relayState is what a stream keeps once the handler has returned.
type relayState struct {
	log  streamLog
	kept held
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
