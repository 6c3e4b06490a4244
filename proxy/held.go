package proxy

import (
	"go.uber.org/zap"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmproxy/proxy/providers"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/stream"
)

// held is what an attempt that will answer the client holds until the
// answer is finished: the key lease and the provider's concurrency slot.
// For a stream they are released when the relay ends. It lives on
// forward's stack; startStream moves it to the heap for the relay.
type held struct {
	streaming bool
	// failed: the answer relayed is the upstream's own early error event,
	// which counts against the key however the stream ends.
	failed  bool
	settled bool
	up      *upState
	lease   keypool.Lease
	slot    func()
	admit   func()
	snap    *snapshot
	log     *zap.Logger
	// total runs the attempt's total timeout, if the provider has one.
	total *totalGuard
}

// done releases everything, recording o against the key. It is called
// once, by forward or (for a stream) by the relay's end.
func (h *held) done(o keypool.Outcome) {
	if h.settled {
		return
	}
	h.settled = true
	if h.total != nil {
		h.total.stop()
	}
	if h.lease.Valid() {
		h.lease.Release(o)
	}
	if h.slot != nil {
		h.slot()
	}
	if h.admit != nil {
		h.admit()
	}
	h.snap.leave()
}

// releaseAttempt gives back what a failed attempt held, recording o
// against its key; the exchange keeps its admission for the next attempt.
func (h *held) releaseAttempt(o keypool.Outcome) {
	h.lease.Release(o) // a no-op for a provider without keys
	if h.slot != nil {
		h.slot()
		h.slot = nil
	}
}

// errTotalTimeout ends a stream that ran past its provider's total timeout.
var errTotalTimeout = totalTimeout{}

type totalTimeout struct{}

func (totalTimeout) Error() string    { return "upstream exceeded its total timeout" }
func (t totalTimeout) Public() string { return t.Error() }
func (totalTimeout) Timeout() bool    { return true }
func (totalTimeout) Temporary() bool  { return false }

// expiring is an upstream stream under a total timeout: once the timer
// closed it, its reads fail with errTotalTimeout rather than with whatever
// the closed connection says, so the client is told why.
type expiring struct {
	stream.Upstream
	expired atomic.Bool
}

func (e *expiring) Read(p []byte) (int, error) {
	n, err := e.Upstream.Read(p)
	if err != nil && e.expired.Load() {
		err = errTotalTimeout
	}
	return n, err
}

// totalGuard runs an attempt's total timeout: its timer closes the
// upstream stream unless the exchange finished first (the stream may then
// be back in a pool).
type totalGuard struct {
	mu       sync.Mutex
	finished bool
	timer    *time.Timer
}

func (g *totalGuard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.finished = true
	g.timer.Stop()
}

// limitTotal puts res's stream under the provider's total timeout, counted
// from sent.
func (h *held) limitTotal(res *providers.Result, total time.Duration, sent time.Time) {
	ex := &expiring{Upstream: res.Stream}
	res.Stream = ex
	g := &totalGuard{}
	log := h.log // not h: the closure would move h to the heap
	g.timer = time.AfterFunc(max(total-time.Since(sent), 0), func() {
		defer recoverAndLog(log, "total timeout timer")
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.finished {
			ex.expired.Store(true)
			_ = ex.Upstream.CloseWithError(errTotalTimeout)
		}
	})
	h.total = g
}

// stopTotal disarms the total timeout of an attempt that is abandoned.
func (h *held) stopTotal() {
	if h.total != nil {
		h.total.stop()
		h.total = nil
	}
}

// releaseUnlessStreaming ends the exchange's hold when forward returns,
// unless a stream relay took it over.
func (h *held) releaseUnlessStreaming() {
	if !h.streaming {
		h.done(keypool.Outcome{Kind: keypool.Ignored})
	}
}
