package proxy

import (
	"strconv"
	"strings"
	"time"

	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/providers/usage"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logDone records a request answered in the handler: metrics and the
// access line. upstream is the time spent waiting on the provider.
func (s *Server) logDone(ctx *fasthttp.RequestCtx, start time.Time, upstream time.Duration, p wire.Protocol, provider, model string, stream bool, err error) {
	s.logAnswered(ctx, start, upstream, p, provider, model, stream, err, usage.Counts{}, "")
}

// logAnswered is logDone for an answer whose token usage is known, from
// the upstream key or account labelled account.
func (s *Server) logAnswered(ctx *fasthttp.RequestCtx, start time.Time, upstream time.Duration, p wire.Protocol, provider, model string, stream bool, err error, counts usage.Counts, account string) {
	total := time.Since(start)
	status := ctx.Response.StatusCode()
	c := clientOf(ctx)
	cl := clientName(c)
	s.metrics.ObserveRequest(p.String(), provider, model, status, total, upstream,
		len(ctx.Request.Body()), len(ctx.Response.Body()))
	if cl != "" {
		s.metrics.ClientRequest(cl, status)
	}
	if c != nil {
		// Unauthenticated requests are in the access log only: recording
		// them would let anyone without a key fill the store.
		s.recordTenant(c, start, p, provider, account, model, status, stream, counts, total, 0)
	}
	if ce := s.log.Check(zap.InfoLevel, "request"); ce != nil {
		s.writeAnswered(ce, ctx, p, provider, model, stream, err, cl, status, total)
	}
}

// writeAnswered writes the access line of a request answered in the
// handler. Its fields are in a pooled array rather than on the stack: see
// accessFields.
//
//go:noinline
func (s *Server) writeAnswered(ce *zapcore.CheckedEntry, ctx *fasthttp.RequestCtx, p wire.Protocol, provider, model string, stream bool, err error, cl string, status int, total time.Duration) {
	fields := s.accessFields.Get().(*accessFields)
	defer s.putAccessFields(fields)
	s.fillAnswered(fields, ctx, p, provider, model, stream, err, cl, status, total)
	ce.Write(fields[:]...)
}

// fillAnswered sets the fields of writeAnswered's line. It is a frame of
// its own, gone before zap encodes the line: building a field takes a
// temporary on the stack.
//
//go:noinline
func (s *Server) fillAnswered(fields *accessFields, ctx *fasthttp.RequestCtx, p wire.Protocol, provider, model string, stream bool, err error, cl string, status int, total time.Duration) {
	fields[0] = zap.ByteString("request_id", ctx.Response.Header.Peek("X-Request-Id"))
	fields[1] = zap.ByteString("method", ctx.Method())
	fields[2] = zap.ByteString("path", ctx.Path())
	fields[3] = zap.Int("status", status)
	fields[4] = zap.String("client", cl)
	fields[5] = zap.String("protocol", p.String())
	fields[6] = zap.String("provider", provider)
	fields[7] = zap.String("model", capLogged(model))
	fields[8] = zap.Bool("stream", stream)
	fields[9] = zap.Duration("duration", total)
	fields[10] = zap.Int("bytes_in", len(ctx.Request.Body()))
	fields[11] = zap.Int("bytes_out", len(ctx.Response.Body()))
	fields[12] = s.errField(err)
	fields[13] = cacheField(cacheVerdict(ctx))
	if dropped, ok := ctx.UserValue(userDroppedTools).(string); ok {
		fields[len(fields)-3] = zap.String("dropped_tools", dropped)
	}
	if note, ok := ctx.UserValue(userError).(errorNote); ok {
		fields[len(fields)-2] = zap.String("error_kind", note.kind.String())
		fields[len(fields)-1] = zap.String("reason", capLogged(s.current().redactor.String(note.message)))
	} else if status >= 400 {
		fields[len(fields)-2] = zap.String("error_kind", "upstream")
		fields[len(fields)-1] = zap.String("reason", "upstream answered HTTP "+strconv.Itoa(status))
	}
}

// accessFields holds one access line's fields. They live in a pooled
// array, not on the stack: the goroutine that serves a connection keeps the
// stack it grew to, also while it relays a stream for minutes, and a
// 17-field array (1 KB, with the temporaries that fill it nearly 3 KB of
// frame) was enough to double it.
type accessFields [17]zap.Field

// newAccessFields is an array of skipped fields: a line leaves the fields
// it has no value for as they are (the zero Field is not a skip).
func newAccessFields() any {
	f := new(accessFields)
	f.clear()
	return f
}

func (f *accessFields) clear() {
	for i := range f {
		f[i] = zap.Skip()
	}
}

// putAccessFields clears fields, which hold request bytes, and pools them.
func (s *Server) putAccessFields(fields *accessFields) {
	fields.clear()
	s.accessFields.Put(fields)
}

// maxLogged bounds a client-chosen string in a log line (a model name can
// be megabytes long).
const maxLogged = 200

// capLogged returns s cut to maxLogged bytes, on one line.
func capLogged(s string) string {
	if len(s) > maxLogged {
		s = s[:maxLogged] + "..."
	}
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// streamLog is what a stream's access line needs once the handler is gone.
type streamLog struct {
	requestID []byte
	path      []byte
	proto     wire.Protocol
	provider  string
	model     string
	start     time.Time
	bytesIn   int
	// overhead is the proxy's own time before the stream was handed over.
	overhead time.Duration
	client   string
	cl       *client
	// account labels the upstream key or account that answered.
	account string
	// cache is the X-Proxy-Cache verdict, if the target is cached.
	cache []byte
	// tr is the stream's translator, kept here to share this allocation.
	tr metered
}

// logStream records a finished stream: metrics and the access line.
func (s *Server) logStream(l *streamLog, bytesOut int64, firstEvent time.Time, err error) {
	total := time.Since(l.start)
	s.metrics.StreamEnded()
	s.metrics.ObserveRequest(l.proto.String(), l.provider, l.model, 200, total, total-l.overhead, l.bytesIn, int(bytesOut))
	if l.client != "" {
		s.metrics.ClientRequest(l.client, 200)
	}
	if !firstEvent.IsZero() {
		s.metrics.ObserveTTFT(l.proto.String(), l.provider, l.model, firstEvent.Sub(l.start))
	}
	if l.cl != nil {
		var ttft time.Duration
		if !firstEvent.IsZero() {
			ttft = firstEvent.Sub(l.start)
		}
		s.recordTenant(l.cl, l.start, l.proto, l.provider, l.account, l.model, 200, true, l.tr.usage.Counts, total, ttft)
	}
	if ce := s.log.Check(zap.InfoLevel, "request"); ce != nil {
		s.writeStreamed(ce, l, bytesOut, firstEvent, err, total)
	}
}

// writeStreamed writes the access line of a finished stream, with its
// fields off the stack as writeAnswered's.
//
//go:noinline
func (s *Server) writeStreamed(ce *zapcore.CheckedEntry, l *streamLog, bytesOut int64, firstEvent time.Time, err error, total time.Duration) {
	fields := s.accessFields.Get().(*accessFields)
	defer s.putAccessFields(fields)
	s.fillStreamed(fields, l, bytesOut, firstEvent, err, total)
	ce.Write(fields[:]...)
}

// fillStreamed sets the fields of writeStreamed's line (see fillAnswered).
//
//go:noinline
func (s *Server) fillStreamed(fields *accessFields, l *streamLog, bytesOut int64, firstEvent time.Time, err error, total time.Duration) {
	ttfb := time.Duration(0)
	if !firstEvent.IsZero() {
		ttfb = firstEvent.Sub(l.start)
	}
	fields[0] = zap.ByteString("request_id", l.requestID)
	fields[1] = zap.String("method", "POST")
	fields[2] = zap.ByteString("path", l.path)
	fields[3] = zap.Int("status", 200)
	fields[4] = zap.String("client", l.client)
	fields[5] = zap.String("protocol", l.proto.String())
	fields[6] = zap.String("provider", l.provider)
	fields[7] = zap.String("model", capLogged(l.model))
	fields[8] = zap.Bool("stream", true)
	fields[9] = zap.Duration("duration", total)
	fields[10] = zap.Duration("first_event", ttfb)
	fields[11] = zap.Int("bytes_in", l.bytesIn)
	fields[12] = zap.Int64("bytes_out", bytesOut)
	fields[13] = s.errField(err)
	fields[14] = cacheField(l.cache)
}

// cacheField is the response cache's verdict (hit, miss, bypass) on the
// access line of a request whose target is cached.
func cacheField(v []byte) zap.Field {
	if len(v) == 0 {
		return zap.Skip()
	}
	return zap.ByteString("cache", v)
}

// errField logs an error with any key in its text masked.
func (s *Server) errField(err error) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.String("error", capLogged(s.current().redactor.String(err.Error())))
}

// logAttempt writes, at debug level only, one line per upstream attempt:
// which provider, model and key (by label) it went to and what came back.
// The access line says how the request ended; these say how it got there.
func (s *Server) logAttempt(x *exchange, n int, provider, model string, lease *keypool.Lease, status int, took time.Duration, err error) {
	ce := s.log.Check(zap.DebugLevel, "upstream attempt")
	if ce == nil {
		return
	}
	key := ""
	if lease.Valid() {
		key = lease.Label()
	}
	ce.Write(
		zap.ByteString("request_id", x.ctx.Response.Header.Peek("X-Request-Id")),
		zap.Int("attempt", n),
		zap.String("provider", provider),
		zap.String("model", capLogged(model)),
		zap.String("key", key),
		zap.Int("status", status),
		zap.Duration("took", took),
		s.errField(err),
	)
}
