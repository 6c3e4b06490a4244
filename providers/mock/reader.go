package mock

import (
	"errors"
	"io"
	"sync"
	"time"
)

// errClosed is returned by a Reader read after CloseWithError.
var errClosed = errors.New("mock stream closed")

// Reader yields an Answer's stream events. Without a delay it fills each Read
// with as many events as fit, like a fast upstream; with a delay it returns
// one event per Read after waiting, like a model generating tokens.
type Reader struct {
	a       Answer
	next    int
	pending []byte
	mu      sync.Mutex
	closed  chan struct{}
	err     error
}

// NewReader returns a Reader over a's events.
func NewReader(a Answer) *Reader {
	return &Reader{a: a, closed: make(chan struct{})}
}

func (r *Reader) Read(p []byte) (int, error) {
	select {
	case <-r.closed:
		return 0, r.closeErr()
	default:
	}
	n := 0
	for n < len(p) {
		if len(r.pending) == 0 {
			if r.a.TruncateAfter > 0 && r.next > r.a.TruncateAfter {
				if n > 0 {
					return n, nil
				}
				return 0, io.EOF
			}
			if r.a.Delay > 0 && r.next > 0 {
				if n > 0 {
					return n, nil
				}
				t := time.NewTimer(r.a.Delay)
				select {
				case <-t.C:
				case <-r.closed:
					t.Stop()
					return 0, r.closeErr()
				}
			}
			var ok bool
			r.pending, ok = r.a.AppendEvent(r.pending[:0], r.next)
			if !ok {
				if n > 0 {
					return n, nil
				}
				return 0, io.EOF
			}
			r.next++
		}
		c := copy(p[n:], r.pending)
		r.pending = r.pending[c:]
		n += c
	}
	return n, nil
}

func (r *Reader) closeErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// CloseWithError ends the stream; a Read waiting on the delay returns at once.
func (r *Reader) CloseWithError(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.closed:
		return nil
	default:
	}
	if err == nil {
		err = errClosed
	}
	r.err = err
	close(r.closed)
	return nil
}
