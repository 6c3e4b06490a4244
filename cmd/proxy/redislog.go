package main

import (
	"context"
	"time"

	"github.com/llmproxy/proxy/proxy"
	"go.uber.org/zap"
)

// redisLog takes go-redis's own messages (a failed dial, a pool that
// cannot connect: the response cache and the shared limits both use it)
// into the proxy's log as bounded warnings (proxy.LibraryLog), instead of
// unstructured lines on stderr for every attempt while Redis is down.
type redisLog struct{ *proxy.LibraryLog }

func newRedisLog(l *zap.Logger, now func() time.Time) redisLog {
	return redisLog{proxy.NewLibraryLog(l, "redis client", now)}
}

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.LibraryLog.Printf(format, v...)
}
