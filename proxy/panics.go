package proxy

import (
	"errors"
	"runtime/debug"

	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/stream"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// recoverAndLog is deferred first in every goroutine and timer callback the
// proxy starts: a panic there has no caller to recover it and would end
// the process, and every stream with it. It must be deferred directly
// (defer recoverAndLog(log, "where")) for recover to see the panic.
func recoverAndLog(log *zap.Logger, where string) {
	if v := recover(); v != nil {
		log.Error("panic recovered", zap.String("in", where), zap.Any("panic", v),
			zap.ByteString("stack", debug.Stack()))
	}
}

// panicked answers a request whose handler panicked, and logs where.
func (s *Server) panicked(ctx *fasthttp.RequestCtx, v any) {
	// Called from the router's deferred recover, still on the panicking
	// goroutine: the stack shows where the panic happened.
	s.log.Error("handler panic", zap.Any("panic", v), zap.ByteString("path", ctx.Path()),
		zap.ByteString("stack", debug.Stack()))
	writeError(ctx, protocolForPath(ctx.Path()), wire.Internal, "internal error", "")
}

// logRelayPanic logs a panic a stream relay caught, with its stack.
func (s *Server) logRelayPanic(requestID []byte, err error) {
	if err == nil {
		return // most streams: no error, and no errors.As target on the heap
	}
	var pe *stream.PanicError
	if errors.As(err, &pe) {
		s.log.Error("stream relay panic", zap.ByteString("request_id", requestID),
			zap.Any("panic", pe.Value), zap.ByteString("stack", pe.Stack))
	}
}
