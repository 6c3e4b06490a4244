// Package breaker is a per-provider circuit breaker.
//
// Closed, it lets everything through and watches a rolling window of
// outcomes; it opens after sustained failure: a failure ratio over the window
// once enough requests were seen, or a run of consecutive failures. Open, it
// refuses everything for a cool-off that doubles each time a probe fails.
// Then it is half-open: a bounded number of probe requests go through; if
// they all succeed it closes, and the first failure opens it again.
//
// Allow is lock-free while closed; Done takes a mutex. Neither allocates.
package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// State is the breaker's position.
type State uint32

const (
	Closed State = iota
	Open
	HalfOpen
)

// String returns closed, open or half-open.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// MarshalText lets State encode as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Options tunes a Breaker; zero values take the documented defaults.
type Options struct {
	// Window is the rolling window of outcomes (default 10 s) kept in Buckets
	// slices (default 10).
	Window  time.Duration
	Buckets int
	// MinRequests is the fewest outcomes in the window before the failure
	// ratio can open the breaker (default 20).
	MinRequests int
	// FailureRatio opens the breaker when failures/requests in the window
	// reaches it (default 0.5).
	FailureRatio float64
	// ConsecutiveFailures opens the breaker after that many failures in a
	// row, whatever the window says (default 5; negative disables).
	ConsecutiveFailures int
	// OpenFor is the first cool-off (default 5 s); each failed probe doubles
	// it up to MaxOpenFor (default 60 s).
	OpenFor    time.Duration
	MaxOpenFor time.Duration
	// HalfOpenProbes is how many probes may be in flight when half-open, and
	// how many must succeed to close (default 1).
	HalfOpenProbes int
	// ProbeTimeout is how long half-open probes may stay unreported before
	// they are presumed lost and new ones are let through (default 60 s), so
	// a leaked ticket cannot wedge the breaker half-open.
	ProbeTimeout time.Duration
	// Now is the clock Done and State read (default time.Now).
	Now func() time.Time
	// OnStateChange, if set, is called after every transition, outside the
	// breaker's lock (for logs and metrics).
	OnStateChange func(from, to State)
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	if o.Buckets <= 0 {
		o.Buckets = 10
	}
	if o.Window/time.Duration(o.Buckets) <= 0 {
		o.Buckets = 1
	}
	if o.MinRequests <= 0 {
		o.MinRequests = 20
	}
	if o.FailureRatio <= 0 || o.FailureRatio > 1 {
		o.FailureRatio = 0.5
	}
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = 5
	}
	if o.OpenFor <= 0 {
		o.OpenFor = 5 * time.Second
	}
	if o.MaxOpenFor < o.OpenFor {
		o.MaxOpenFor = max(60*time.Second, o.OpenFor)
	}
	if o.HalfOpenProbes <= 0 {
		o.HalfOpenProbes = 1
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 60 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Ticket is what Allow hands out and Done takes back. Call Done when the
// upstream's response headers arrived (or the attempt failed), not at the
// end of a stream. Outcomes of tickets
// issued before the last transition are ignored: a slow request admitted
// while closed must not close a breaker that has since opened.
type Ticket struct {
	gen   uint64
	probe bool
}

// Probe reports whether the ticket is a half-open probe.
func (t Ticket) Probe() bool { return t.probe }

type bucket struct {
	epoch         int64
	total, failed int64
}

// Breaker guards one provider. It is safe for concurrent use.
type Breaker struct {
	state atomic.Uint32 // mirrors st for the lock-free closed path
	gen   atomic.Uint64 // mirrors g

	mu        sync.Mutex
	opts      Options
	st        State
	g         uint64
	openUntil int64
	openFor   time.Duration
	probesOut int
	probesOK  int
	probeAt   int64 // when the last probe was let through
	consec    int
	buckets   []bucket
	bucketNs  int64
	opens     uint64
}

// New builds a closed breaker.
func New(opts Options) *Breaker {
	opts.defaults()
	b := &Breaker{
		opts:     opts,
		g:        1, // the zero Ticket is never current
		openFor:  opts.OpenFor,
		buckets:  make([]bucket, opts.Buckets),
		bucketNs: int64(opts.Window) / int64(opts.Buckets),
	}
	b.gen.Store(1)
	return b
}
