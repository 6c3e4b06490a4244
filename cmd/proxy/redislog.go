package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// redisLog takes go-redis's own messages (a failed dial, a pool that
// cannot connect: the response cache and the shared limits both use it)
// into the proxy's log as warnings, at most one a second with a count of
// those held back, instead of unstructured lines on stderr for every
// attempt while Redis is down.
type redisLog struct {
	l          *zap.Logger
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (r *redisLog) Printf(_ context.Context, format string, v ...any) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.last) < time.Second {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.last = now
	n := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	r.l.Warn("redis client", zap.String("message", fmt.Sprintf(format, v...)), zap.Int("suppressed_before", n))
}
