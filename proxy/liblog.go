package proxy

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// LibraryLog takes a library's own messages (fasthttp's, go-redis's) into
// the proxy's log as warnings named msg, at most one a second, with the
// count of those held back on the next: such messages come from clients
// or from a store that is down, and without a bound they would fill the
// log.
type LibraryLog struct {
	l       *zap.Logger
	msg     string
	now     func() time.Time
	mu      sync.Mutex
	last    time.Time
	dropped int
}

// NewLibraryLog logs to l under msg; now tells the time (time.Now when
// nil).
func NewLibraryLog(l *zap.Logger, msg string, now func() time.Time) *LibraryLog {
	if now == nil {
		now = time.Now
	}
	return &LibraryLog{l: l, msg: msg, now: now}
}

// Printf logs one message, unless one was logged less than a second ago.
func (g *LibraryLog) Printf(format string, args ...any) {
	g.mu.Lock()
	now := g.now()
	if now.Sub(g.last) < time.Second {
		g.dropped++
		g.mu.Unlock()
		return
	}
	g.last = now
	dropped := g.dropped
	g.dropped = 0
	g.mu.Unlock()
	g.l.Warn(g.msg, zap.String("message", fmt.Sprintf(format, args...)), zap.Int("suppressed_before", dropped))
}
