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
func primeWithin(rd *stream.Reader, ev *stream.Event, up stream.Upstream, left time.Duration, bounded bool,
	client net.Conn, tick time.Duration, log *zap.Logger) error {
	if !bounded && (client == nil || tick <= 0) {
		return rd.Prime(ev)
	}
	deadline := time.Now().Add(max(left, 0))
	next := func(now time.Time) time.Duration {
		d := deadline.Sub(now)
		if !bounded || (tick > 0 && client != nil && tick < d) {
			return tick
		}
		return max(d, 0)
	}
	var (
		mu     sync.Mutex
		done   bool
		reason error
		t      *time.Timer
	)
	check := func() {
		defer recoverAndLog(log, "first-event timer")
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		now := time.Now()
		switch {
		case bounded && !now.Before(deadline):
			reason = retry.ErrFirstByteTimeout
		case client != nil && tick > 0 && peerClosed(client):
			reason = stream.ErrClientGone
		default:
			t.Reset(next(now))
			return
		}
		// Unblocks Prime's read; it returns before this close completes.
		_ = up.CloseWithError(reason)
	}
	mu.Lock()
	t = time.AfterFunc(next(time.Now()), check)
	mu.Unlock()
	err := rd.Prime(ev)
	mu.Lock()
	done = true
	t.Stop()
	why := reason
	mu.Unlock()
	if why != nil {
		return why
	}
	return err
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
