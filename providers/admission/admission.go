// Package admission bounds how much work the proxy takes on at once:
// Limiter caps concurrent requests and streams proxy-wide, Sem caps one
// provider's in-flight upstream requests with a short bounded queue.
// Refusals come at once, with a Retry-After suggestion, instead of an
// unbounded queue that would hide overload until clients time out.
package admission

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrOverloaded is matched (errors.Is) by every *OverloadError.
var ErrOverloaded = errors.New("overloaded")

// ErrAbandoned is returned by Sem.Acquire when done closed while waiting.
var ErrAbandoned = errors.New("request abandoned while queued")

// OverloadError is a rejection by a Sem: answer it at once with Status and a
// Retry-After header of RetryAfter (whole seconds, rounded up).
type OverloadError struct {
	// Scope is the Sem's name: "requests", "streams" or a provider.
	Scope string
	// Queued is true when the request waited MaxWait in the queue; false
	// when the queue itself was full.
	Queued     bool
	Status     int
	RetryAfter time.Duration
	msg        string
}

func (e *OverloadError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrOverloaded) hold.
func (e *OverloadError) Unwrap() error { return ErrOverloaded }

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1.
func (e *OverloadError) RetryAfterSeconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// SemOptions configures a Sem.
type SemOptions struct {
	// Limit is how many may hold the Sem at once; 0 means unlimited.
	Limit int
	// Queue is how many may wait for a slot beyond Limit; 0 rejects at once.
	Queue int
	// MaxWait is the longest a queued request waits (default 1 s).
	MaxWait time.Duration
	// RetryAfter is suggested to rejected clients (default 1 s).
	RetryAfter time.Duration
	// Status answers rejections (default 503).
	Status int
}

// Sem is a counting semaphore with a bounded, time-limited wait queue.
type Sem struct {
	slots      chan struct{} // nil: unlimited
	queue      int32
	waiting    atomic.Int32
	maxWait    time.Duration
	release    func()
	errFull    *OverloadError
	errTimeout *OverloadError
}

// NewSem builds a Sem named name (used in errors and metrics).
func NewSem(name string, o SemOptions) *Sem {
	if o.MaxWait <= 0 {
		o.MaxWait = time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Status == 0 {
		o.Status = 503
	}
	s := &Sem{queue: int32(max(o.Queue, 0)), maxWait: o.MaxWait}
	if o.Limit > 0 {
		s.slots = make(chan struct{}, o.Limit)
	}
	// Both rejections are prebuilt: under overload the rejection path is the
	// hot path, and must not allocate.
	s.errFull = &OverloadError{Scope: name, Status: o.Status, RetryAfter: o.RetryAfter,
		msg: name + ": at capacity (" + strconv.Itoa(o.Limit) + " in use, " + strconv.Itoa(o.Queue) + " queued)"}
	s.errTimeout = &OverloadError{Scope: name, Queued: true, Status: o.Status, RetryAfter: o.RetryAfter,
		msg: name + ": no capacity within " + o.MaxWait.String()}
	s.release = s.Release
	return s
}

func noop() {}

// TryAcquire takes a slot if one is free now. Pair it with Release.
func (s *Sem) TryAcquire() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// AcquireNow takes a slot if one is free now, returning the function that
// frees it: Acquire without the queue, for callers that set up something
// (a watch on the client) only when they must wait.
func (s *Sem) AcquireNow() (release func(), ok bool) {
	if !s.TryAcquire() {
		return nil, false
	}
	return s.release, true
}

// Release frees a slot taken by TryAcquire or Acquire.
func (s *Sem) Release() {
	if s.slots != nil {
		<-s.slots
	}
}

// Acquire takes a slot, waiting at most MaxWait in a bounded queue. It
// returns the function that frees the slot (call it once), an
// *OverloadError when the queue is full or the wait ran out, or
// ErrAbandoned when done closed first (done may be nil).
func (s *Sem) Acquire(done <-chan struct{}) (release func(), err error) {
	if s.slots == nil {
		return noop, nil
	}
	select {
	case s.slots <- struct{}{}:
		return s.release, nil
	default:
	}
	if s.waiting.Add(1) > s.queue {
		s.waiting.Add(-1)
		return nil, s.errFull
	}
	defer s.waiting.Add(-1)
	t := time.NewTimer(s.maxWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return s.release, nil
	case <-t.C:
		return nil, s.errTimeout
	case <-done:
		return nil, ErrAbandoned
	}
}

// InUse is the number of slots held (0 for an unlimited Sem).
func (s *Sem) InUse() int { return len(s.slots) }

// Waiting is the number of queued requests.
func (s *Sem) Waiting() int { return int(s.waiting.Load()) }

// LimiterOptions configures a Limiter. Zero limits mean unlimited.
type LimiterOptions struct {
	// MaxRequests bounds concurrent client requests, streams included.
	MaxRequests int
	// MaxStreams bounds concurrent streaming requests.
	MaxStreams int
	// RetryAfter is suggested when a global bound rejects (default 1 s).
	RetryAfter time.Duration
}

// Limiter holds the global bounds (each provider's bound is its own Sem).
type Limiter struct {
	requests *Sem
	streams  *Sem
	both     func()
}

// NewLimiter builds a Limiter. Global bounds never queue: a proxy at its
// global limit is better off rejecting than holding sockets open.
func NewLimiter(o LimiterOptions) *Limiter {
	l := &Limiter{
		requests: NewSem("requests", SemOptions{Limit: o.MaxRequests, RetryAfter: o.RetryAfter}),
		streams:  NewSem("streams", SemOptions{Limit: o.MaxStreams, RetryAfter: o.RetryAfter}),
	}
	l.both = func() {
		l.streams.Release()
		l.requests.Release()
	}
	return l
}

// Admit applies the global bounds to a new client request and never waits.
// On success call release once when the response (stream) is finished.
func (l *Limiter) Admit(stream bool) (release func(), err error) {
	if !l.requests.TryAcquire() {
		return nil, l.requests.errFull
	}
	if !stream {
		if l.requests.slots == nil {
			return noop, nil
		}
		return l.requests.release, nil
	}
	if !l.streams.TryAcquire() {
		l.requests.Release()
		return nil, l.streams.errFull
	}
	return l.both, nil
}

// Requests and Streams expose the global Sems for metrics.
func (l *Limiter) Requests() *Sem { return l.requests }

// Streams is the global stream Sem.
func (l *Limiter) Streams() *Sem { return l.streams }
