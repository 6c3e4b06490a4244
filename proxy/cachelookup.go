package proxy

import (
	"bytes"
	"time"

	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/cache"
	"github.com/llmproxy/proxy/proxy/metrics"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
)

// cacheState is what the response cache does with one exchange.
type cacheState struct {
	rule      *cacheRule
	store     cache.Store
	recording *cache.Budget
	key       cache.Key
	// keep: store the answer if it turns out complete and successful.
	keep bool
}

// serveCached looks the exchange up in the response cache, once its
// client's access to the routed provider and model was checked, and
// answers it from there on a hit. On a miss (or Cache-Control: no-cache)
// it marks the exchange for storing. Requests whose target is not cached
// cost one map lookup and nothing else.
func (s *Server) serveCached(x *exchange) bool {
	r := x.snap.cache.rule(x.op, x.route)
	if r == nil {
		return false
	}
	ctx := x.ctx
	noCache, noStore := cacheControl(ctx.Request.Header.Peek(fasthttp.HeaderCacheControl))
	if noStore {
		s.cacheResult(x, metrics.CacheBypass)
		return false
	}
	key, ok := s.cacheKey(x, r)
	if !ok {
		s.cacheResult(x, metrics.CacheBypass)
		return false
	}
	store := x.snap.cache.store
	x.cache = cacheState{rule: r, store: store, recording: x.snap.cache.recording, key: key, keep: true}
	if noCache {
		s.cacheResult(x, metrics.CacheBypass)
		return false
	}
	blob, found := store.Get(key)
	var e cache.Entry
	if found {
		var err error
		e, err = cache.Decode(blob)
		found = err == nil && e.Stream == x.stream
	}
	if !found {
		s.cacheResult(x, metrics.CacheMiss)
		return false
	}
	s.cacheResult(x, metrics.CacheHit)
	s.prompts.Log(b2s(ctx.Response.Header.Peek("X-Request-Id")), x.in.String(), x.route.model, ctx.PostBody())
	x.prompted = true
	if e.Stream {
		s.replayStream(x, &e)
		return true
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(e.ContentType)
	// The stored bytes are never changed: the response can point at them.
	ctx.Response.SetBodyRaw(e.Body)
	s.logDone(ctx, x.start, 0, x.in, x.provider(), x.route.model, x.stream, nil)
	return true
}

// verdicts are the values of X-Proxy-Cache, shared by every access line.
var verdicts = [...][]byte{[]byte(metrics.CacheHit), []byte(metrics.CacheMiss), []byte(metrics.CacheBypass)}

// cacheVerdict is the X-Proxy-Cache value set on ctx's response, as one
// of verdicts (a stream's access line is written after ctx is gone).
func cacheVerdict(ctx *fasthttp.RequestCtx) []byte {
	v := ctx.Response.Header.Peek(HeaderCache)
	for _, w := range verdicts {
		if bytes.Equal(v, w) {
			return w
		}
	}
	return nil
}

func (s *Server) cacheResult(x *exchange, result string) {
	x.ctx.Response.Header.Set(HeaderCache, result)
	s.metrics.CacheLookup(x.provider(), x.route.model, result)
}

// cacheKey is the key of the exchange's request, or false when it must
// not be cached: a sampled request the rule does not allow, one that
// refers to state the upstream keeps, or a body that is not an object.
func (s *Server) cacheKey(x *exchange, r *cacheRule) (cache.Key, bool) {
	body := x.ctx.PostBody()
	parser := s.parsers.Get()
	defer s.putParser(parser, len(body))
	v, err := parser.ParseBytes(body)
	if err != nil || (!r.allowTemp && cache.Sampled(x.in, v)) || cache.Stateful(v) {
		return cache.Key{}, false
	}
	b, _ := s.keyBuilders.Get().(*cache.Builder)
	if b == nil {
		b = new(cache.Builder)
	}
	b.Reset()
	b.Field("request", []byte{byte(x.in), byte(x.op), byte(x.framing), boolByte(x.stream)})
	b.FieldString("provider", x.route.provider.Name())
	b.FieldString("model", x.route.model)
	b.Field("salt", r.salt[:])
	for _, h := range r.headers {
		b.Field(h, x.ctx.Request.Header.Peek(h))
	}
	ok := b.Body(v)
	key := b.Sum()
	if b.Cap() <= pooledBodyMax {
		s.keyBuilders.Put(b)
	}
	return key, ok
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// cacheControl reads the client's no-cache (do not answer from the
// cache) and no-store (do not store the answer either) directives.
func cacheControl(h []byte) (noCache, noStore bool) {
	for len(h) > 0 {
		var d []byte
		if i := bytes.IndexByte(h, ','); i >= 0 {
			d, h = h[:i], h[i+1:]
		} else {
			d, h = h, nil
		}
		d = bytes.TrimSpace(d)
		switch {
		case bytes.EqualFold(d, []byte("no-store")):
			noStore = true
		case bytes.EqualFold(d, []byte("no-cache")), bytes.EqualFold(d, []byte("max-age=0")):
			noCache = true
		}
	}
	return noCache, noStore
}

// storeAnswer keeps a whole successful answer, as its client received it.
func (s *Server) storeAnswer(x *exchange) {
	c := &x.cache
	body := x.ctx.Response.Body()
	if len(body) > c.rule.maxEntry {
		return
	}
	c.store.Put(c.key, cache.EncodePlain(x.ctx.Response.Header.ContentType(), body), c.rule.ttl)
}

// cacheRecording is a stream's Translator that also records the bytes
// each event became for the client, to store the stream once it ended
// with its terminator. Any error event, translation error or relay
// failure spoils the recording.
type cacheRecording struct {
	stream.Translator
	rec *cache.Recorder
	bad bool
}

func (c *cacheRecording) Event(dst []byte, ev *stream.Event) ([]byte, error) {
	n := len(dst)
	out, err := c.Translator.Event(dst, ev)
	if err != nil || stream.IsErrorEvent(ev) {
		c.bad = true
	}
	if !c.bad {
		if c.Translator.PassThrough() {
			c.rec.Add(ev.Raw, time.Now())
		} else {
			c.rec.Add(out[n:], time.Now())
		}
	}
	return out, err
}

func (c *cacheRecording) End(dst []byte) ([]byte, error) {
	n := len(dst)
	out, err := c.Translator.End(dst)
	if err != nil {
		c.bad = true
	} else if !c.bad {
		c.rec.Add(out[n:], time.Now())
	}
	return out, err
}

func (c *cacheRecording) Fail(dst []byte, kind wire.Kind, message string) []byte {
	c.bad = true
	return c.Translator.Fail(dst, kind, message)
}

// complete reports whether the recording is a whole, clean stream.
func (c *cacheRecording) complete() bool { return !c.bad && !c.rec.Over && c.Translator.Done() }

// replayStream answers from a stored stream: its events in order, in one
// write or at their recorded pace.
func (s *Server) replayStream(x *exchange, e *cache.Entry) {
	ctx := x.ctx
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(e.ContentType)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	l := &streamLog{
		requestID: append([]byte(nil), ctx.Response.Header.Peek("X-Request-Id")...),
		path:      append([]byte(nil), ctx.Path()...),
		proto:     x.in,
		provider:  x.provider(),
		model:     x.route.model,
		start:     x.start,
		bytesIn:   len(ctx.Request.Body()),
		client:    clientName(clientOf(ctx)),
		cl:        clientOf(ctx),
		cache:     cacheVerdict(ctx),
	}
	s.metrics.StreamStarted()
	var beat []byte
	if x.framing == convert.FramingSSE {
		beat = stream.Heartbeat
	}
	rp := &replay{
		beat:      beat,
		events:    e.Events,
		payload:   e.Payload,
		paced:     x.cache.rule.paced,
		heartbeat: x.snap.cfg.Server.StreamHeartbeat,
		stop:      s.stop,
		conn:      ctx.Conn(),
		wtimeout:  x.snap.cfg.Server.WriteTimeout,
		onFinish: func(bytes int64, first time.Time, err error) {
			defer recoverAndLog(s.log, "cache replay finish")
			// No upstream was waited on: the whole time is the proxy's.
			l.overhead = time.Since(l.start)
			s.logStream(l, bytes, first, err)
		},
	}
	ctx.Response.SetBodyStream(rp, -1)
}
