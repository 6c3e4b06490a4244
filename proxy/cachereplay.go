package proxy

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/llmproxy/proxy/proxy/cache"
	"github.com/llmproxy/proxy/stream"
)

// replay is the body of an answer served from a stored stream. Like
// stream.Relay it is a fasthttp BodyWriterTo: each Write is one HTTP
// chunk, flushed. Instant replay writes every event at once; paced replay
// writes each event after the delay it had upstream, or at once from the
// moment the proxy starts shutting down (the answer is already here, so
// finishing it is better than cutting it). A gap longer than the
// heartbeat interval is filled with heartbeat comments, as the live relay
// filled it (and a client that left is noticed then).
type replay struct {
	events    cache.Events
	payload   []byte
	paced     bool
	heartbeat time.Duration
	beat      []byte // nil: no heartbeats (a JSON array stream)
	stop      <-chan struct{}
	conn      stream.DeadlineSetter
	wtimeout  time.Duration
	onFinish  func(bytes int64, first time.Time, err error)

	once  sync.Once
	bytes int64
	first time.Time
	read  int // the io.Reader fallback's position
	dead  bool
}

// SupportsBodyWriteTo tells fasthttp to call WriteTo rather than Read.
func (r *replay) SupportsBodyWriteTo() bool { return true }

// WriteTo writes the stored events to the client.
func (r *replay) WriteTo(w io.Writer) (n int64, err error) {
	defer func() {
		if pe := stream.Recovered(recover()); pe != nil {
			err = pe
		}
		r.finish(err)
		n = r.bytes
	}()
	if !r.paced {
		return r.bytes, r.write(w, r.payload, true)
	}
	ev := r.events
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		b, delay, ok := ev.Next()
		if !ok {
			return r.bytes, nil
		}
		for delay > 0 && r.stop != nil {
			wait := delay
			if r.beat != nil && r.heartbeat > 0 && r.heartbeat < wait {
				wait = r.heartbeat
			}
			if t == nil {
				t = time.NewTimer(wait)
			} else {
				t.Reset(wait)
			}
			select {
			case <-t.C:
			case <-r.stop:
				r.stop = nil // shutting down: the rest at once
				continue
			}
			if delay -= wait; delay > 0 {
				if err := r.write(w, r.beat, false); err != nil {
					return r.bytes, err
				}
			}
		}
		if err := r.write(w, b, true); err != nil {
			return r.bytes, err
		}
	}
}

// write sends b, an event (or all of them) unless it is a heartbeat.
func (r *replay) write(w io.Writer, b []byte, event bool) error {
	if event && r.first.IsZero() {
		r.first = time.Now()
	}
	if r.conn != nil && r.wtimeout > 0 {
		_ = r.conn.SetWriteDeadline(time.Now().Add(r.wtimeout))
		r.dead = true
	}
	n, err := w.Write(b)
	r.bytes += int64(n)
	if err != nil {
		return errors.Join(stream.ErrClientGone, err)
	}
	return nil
}

func (r *replay) finish(err error) {
	r.once.Do(func() {
		if r.dead {
			// The connection may serve further requests: no stale deadline.
			_ = r.conn.SetWriteDeadline(time.Time{})
		}
		r.onFinish(r.bytes, r.first, err)
	})
}

// Read is the fallback for writers that do not use WriteTo: every event
// at once.
func (r *replay) Read(p []byte) (int, error) {
	if r.read >= len(r.payload) {
		r.finish(nil)
		return 0, io.EOF
	}
	if r.first.IsZero() {
		r.first = time.Now()
	}
	n := copy(p, r.payload[r.read:])
	r.read += n
	r.bytes += int64(n)
	return n, nil
}

// CloseWithError is fasthttp's last call on a body stream: it finishes a
// replay that never ran (the client left first).
func (r *replay) CloseWithError(err error) error {
	if err == nil {
		err = stream.ErrClientGone
	}
	r.finish(err)
	return nil
}
