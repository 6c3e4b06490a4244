package proxy

import (
	"time"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// logDone writes the access line of a request answered in the handler.
func (s *Server) logDone(ctx *fasthttp.RequestCtx, start time.Time, p wire.Protocol, provider, model string, stream bool, err error) {
	ce := s.log.Check(zap.InfoLevel, "request")
	if ce == nil {
		return
	}
	fields := [...]zap.Field{
		zap.ByteString("request_id", ctx.Response.Header.Peek("X-Request-Id")),
		zap.ByteString("method", ctx.Method()),
		zap.ByteString("path", ctx.Path()),
		zap.Int("status", ctx.Response.StatusCode()),
		zap.String("protocol", p.String()),
		zap.String("provider", provider),
		zap.String("model", model),
		zap.Bool("stream", stream),
		zap.Duration("duration", time.Since(start)),
		zap.Int("bytes_in", len(ctx.Request.Body())),
		zap.Int("bytes_out", len(ctx.Response.Body())),
		zap.Error(err),
	}
	ce.Write(fields[:]...)
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
}

func (s *Server) logStream(l *streamLog, bytesOut int64, firstEvent time.Time, err error) {
	ce := s.log.Check(zap.InfoLevel, "request")
	if ce == nil {
		return
	}
	ttfb := time.Duration(0)
	if !firstEvent.IsZero() {
		ttfb = firstEvent.Sub(l.start)
	}
	fields := [...]zap.Field{
		zap.ByteString("request_id", l.requestID),
		zap.String("method", "POST"),
		zap.ByteString("path", l.path),
		zap.Int("status", 200),
		zap.String("protocol", l.proto.String()),
		zap.String("provider", l.provider),
		zap.String("model", l.model),
		zap.Bool("stream", true),
		zap.Duration("duration", time.Since(l.start)),
		zap.Duration("first_event", ttfb),
		zap.Int("bytes_in", l.bytesIn),
		zap.Int64("bytes_out", bytesOut),
		zap.Error(err),
	}
	ce.Write(fields[:]...)
}
