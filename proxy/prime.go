package proxy

import (
	"go.uber.org/zap"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/llmproxy/proxy/providers/retry"
	"github.com/llmproxy/proxy/stream"
)

// primeWithin runs rd.Prime, bounded (when bounded is set) by what is left
// of the first-byte timeout: the first event of a stream is part of its
// first answer, and an upstream that sends headers and then nothing must
// not keep the client waiting with no response at all. While it waits it
// also checks every tick whether the client went away (no heartbeat can
// reach a client before the headers): then the upstream is closed at once,
// so the model stops generating, and Prime reports stream.ErrClientGone.
func (s *Server) primeWithin(rd *stream.Reader, ev *stream.Event, up stream.Upstream, left time.Duration, bounded bool,
	client net.Conn, tick time.Duration, log *zap.Logger) error {
	if !bounded && (client == nil || tick <= 0) {
		return rd.Prime(ev)
	}
	if client != nil && tick <= 0 {
		client = nil // no ticks: only the deadline is watched
	}
	w := s.primeWatches.Get().(*primeWatch)
	w.mu.Lock()
	now := time.Now()
	w.deadline, w.bounded, w.client, w.tick, w.up, w.log = now.Add(max(left, 0)), bounded, client, tick, up, log
	w.done, w.reason = false, nil
	if w.t == nil {
		w.t = time.AfterFunc(w.next(now), w.check)
	} else {
		w.t.Reset(w.next(now))
	}
	w.mu.Unlock()
	err := rd.Prime(ev)
	w.mu.Lock()
	w.done = true
	// A timer stopped before it fired will not run check: the watch can
	// serve another stream, timer included. One that fired is left to
	// its check, which finds done set.
	reusable := w.t.Stop()
	why := w.reason
	if reusable {
		w.client, w.up, w.log, w.reason = nil, nil, nil, nil
	}
	w.mu.Unlock()
	if reusable {
		s.primeWatches.Put(w)
	}
	if why != nil {
		return why
	}
	return err
}

// primeWatch is primeWithin's timer state. Watches are pooled with their
// timer: a stream's priming then allocates nothing.
type primeWatch struct {
	mu       sync.Mutex
	deadline time.Time
	bounded  bool
	client   net.Conn // nil when its closing is not watched
	tick     time.Duration
	up       stream.Upstream
	log      *zap.Logger
	done     bool
	reason   error
	t        *time.Timer
}

func newPrimeWatch() any { return new(primeWatch) }

// next is how long until the next check: the next tick, or the deadline
// if it comes first.
func (w *primeWatch) next(now time.Time) time.Duration {
	d := w.deadline.Sub(now)
	if !w.bounded || (w.client != nil && w.tick < d) {
		return w.tick
	}
	return max(d, 0)
}

// check runs on the timer: it closes the upstream at the deadline or when
// the client is gone, else sets the timer for the next check. Everything
// it reads is read under mu, since the watch is reused.
func (w *primeWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer recoverAndLog(w.log, "first-event timer")
	if w.done {
		return
	}
	now := time.Now()
	switch {
	case w.bounded && !now.Before(w.deadline):
		w.reason = retry.ErrFirstByteTimeout
	case w.client != nil && peerClosed(w.client):
		w.reason = stream.ErrClientGone
	default:
		w.t.Reset(w.next(now))
		return
	}
	// Unblocks Prime's read; it returns before this close completes.
	_ = w.up.CloseWithError(w.reason)
}

// peerClosed reports whether the client closed its end of conn, by peeking
// at its socket without consuming or waiting. Connections that are not
// plain sockets (TLS, in-memory) are taken to be open.
func peerClosed(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [1]byte
	_ = rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil || err == syscall.ECONNRESET
	})
	return closed
}

// clientPoll is how often a wait checks whether its client went away.
const clientPoll = 50 * time.Millisecond

// watchClient returns a channel closed once the client closes conn, for a
// wait that should end with it; stop ends the watch.
func watchClient(conn net.Conn, log *zap.Logger) (gone <-chan struct{}, stop func()) {
	g, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer recoverAndLog(log, "client watch")
		t := time.NewTicker(clientPoll)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if peerClosed(conn) {
					close(g)
					return
				}
			}
		}
	}()
	return g, func() { close(quit) }
}
