package breaker

import (
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newBreaker(o Options) (*Breaker, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	o.Now = c.Now
	return New(o), c
}

// step is one request: wait `after`, then Allow; if allowed, report ok.
type step struct {
	after time.Duration
	ok    bool
}

func run(t *testing.T, b *Breaker, c *fakeClock, steps []step) (refused int) {
	t.Helper()
	for _, s := range steps {
		c.Advance(s.after)
		tk, allowed := b.Allow(c.Now())
		if !allowed {
			refused++
			continue
		}
		b.Done(tk, s.ok)
	}
	return refused
}

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func cat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTripConditions(t *testing.T) {
	ok, bad := step{ok: true}, step{}
	tests := []struct {
		name  string
		opts  Options
		steps []step
		want  State
	}{
		{"single failure stays closed", Options{}, []step{bad}, Closed},
		{"consecutive failures trip", Options{ConsecutiveFailures: 3}, repeat(3, bad), Open},
		{"success breaks the run", Options{ConsecutiveFailures: 3}, []step{bad, bad, ok, bad, bad}, Closed},
		{"ratio needs min requests", Options{ConsecutiveFailures: -1, MinRequests: 10}, cat(repeat(4, ok), repeat(5, bad)), Closed},
		{"ratio over min requests trips", Options{ConsecutiveFailures: -1, MinRequests: 10}, cat(repeat(5, ok), repeat(5, bad)), Open},
		{"ratio below threshold", Options{ConsecutiveFailures: -1, MinRequests: 10, FailureRatio: 0.6}, cat(repeat(5, ok), repeat(5, bad)), Closed},
		{"interleaved failures trip by ratio", Options{ConsecutiveFailures: -1, MinRequests: 6}, cat(repeat(3, step{}), []step{ok, bad, ok, bad}), Open},
		{
			"old failures leave the window",
			Options{ConsecutiveFailures: -1, MinRequests: 6, Window: 10 * time.Second, Buckets: 10},
			cat(repeat(5, bad), []step{{after: 11 * time.Second, ok: true}}, repeat(4, ok), []step{bad}),
			Closed,
		},
		{
			"failures spread inside the window add up",
			Options{ConsecutiveFailures: -1, MinRequests: 6, Window: 10 * time.Second, Buckets: 10},
			repeat(6, step{after: time.Second}),
			Open,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, c := newBreaker(tc.opts)
			if refused := run(t, b, c, tc.steps); refused != 0 && tc.want == Closed {
				t.Fatalf("closed breaker refused %d requests", refused)
			}
			if got := b.State(); got != tc.want {
				t.Fatalf("state %v, want %v (%+v)", got, tc.want, b.Stats())
			}
		})
	}
}

func TestOpenHalfOpenClose(t *testing.T) {
	var changes []string
	b, c := newBreaker(Options{
		ConsecutiveFailures: 2, OpenFor: 4 * time.Second, MaxOpenFor: 10 * time.Second, HalfOpenProbes: 2,
		OnStateChange: func(from, to State) { changes = append(changes, from.String()+">"+to.String()) },
	})
	run(t, b, c, repeat(2, step{}))
	if _, ok := b.Allow(c.Now()); ok {
		t.Fatal("open breaker allowed a request")
	}
	if ra := b.RetryAfter(c.Now()); ra != 4*time.Second {
		t.Fatalf("RetryAfter %v", ra)
	}
	c.Advance(3999 * time.Millisecond)
	if _, ok := b.Allow(c.Now()); ok {
		t.Fatal("allowed before cool-off ended")
	}
	c.Advance(time.Millisecond)
	if b.State() != HalfOpen {
		t.Fatalf("after cool-off state %v", b.State())
	}
	p1, ok1 := b.Allow(c.Now())
	p2, ok2 := b.Allow(c.Now())
	_, ok3 := b.Allow(c.Now())
	if !ok1 || !ok2 || ok3 || !p1.Probe() || !p2.Probe() {
		t.Fatalf("probes: %v %v %v", ok1, ok2, ok3)
	}
	// A failed probe reopens with a doubled cool-off.
	b.Done(p1, false)
	b.Done(p2, true) // stale: from the half-open generation that ended
	if s := b.Stats(); s.State != Open || !s.OpenUntil.Equal(c.Now().Add(8*time.Second)) || s.Opens != 2 {
		t.Fatalf("after failed probe: %+v", s)
	}
	c.Advance(8 * time.Second)
	p1, _ = b.Allow(c.Now())
	b.Done(p1, false)
	if ra := b.RetryAfter(c.Now()); ra != 10*time.Second {
		t.Fatalf("cool-off not capped: %v", ra)
	}
	c.Advance(10 * time.Second)
	p1, _ = b.Allow(c.Now())
	p2, _ = b.Allow(c.Now())
	b.Done(p1, true)
	if b.State() != HalfOpen {
		t.Fatal("closed before all probes succeeded")
	}
	b.Done(p2, true)
	if s := b.Stats(); s.State != Closed || s.Requests != 0 || s.ConsecutiveFailures != 0 {
		t.Fatalf("after probes passed: %+v", s)
	}
	// Closing resets the cool-off to OpenFor.
	run(t, b, c, repeat(2, step{}))
	if ra := b.RetryAfter(c.Now()); ra != 4*time.Second {
		t.Fatalf("cool-off after close: %v", ra)
	}
	want := []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>open",
		"open>half-open", "half-open>closed", "closed>open"}
	if len(changes) != len(want) {
		t.Fatalf("transitions %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("transitions %v, want %v", changes, want)
		}
	}
}

func TestStaleAndAbandonedTickets(t *testing.T) {
	b, c := newBreaker(Options{ConsecutiveFailures: 1, OpenFor: time.Second})
	slow, _ := b.Allow(c.Now()) // admitted while closed, finishes late
	tk, _ := b.Allow(c.Now())
	b.Done(tk, false)
	c.Advance(time.Second)
	probe, ok := b.Allow(c.Now())
	if !ok {
		t.Fatal("no probe")
	}
	b.Done(slow, true) // must not close the breaker
	if b.State() != HalfOpen {
		t.Fatalf("stale success changed state to %v", b.State())
	}
	if _, ok := b.Allow(c.Now()); ok {
		t.Fatal("second probe allowed while one is out")
	}
	b.Abandon(probe)
	probe, ok = b.Allow(c.Now())
	if !ok {
		t.Fatal("abandoned probe slot not freed")
	}
	b.Done(probe, true)
	b.Done(Ticket{}, false) // zero ticket is ignored
	if b.State() != Closed {
		t.Fatalf("state %v", b.State())
	}
	b.Abandon(Ticket{})
}

func TestLostProbeDoesNotWedgeHalfOpen(t *testing.T) {
	b, c := newBreaker(Options{ConsecutiveFailures: 1, OpenFor: time.Second, ProbeTimeout: 10 * time.Second})
	tk, _ := b.Allow(c.Now())
	b.Done(tk, false)
	c.Advance(time.Second)
	lost, ok := b.Allow(c.Now())
	if !ok {
		t.Fatal("no probe")
	}
	c.Advance(9 * time.Second)
	if _, ok := b.Allow(c.Now()); ok {
		t.Fatal("second probe before the probe timeout")
	}
	c.Advance(time.Second)
	probe, ok := b.Allow(c.Now())
	if !ok {
		t.Fatal("lost probe wedged the breaker")
	}
	b.Done(lost, false) // the lost probe reports late: stale, ignored
	if b.State() != HalfOpen {
		t.Fatalf("late report of a lost probe changed state to %v", b.State())
	}
	b.Done(probe, true)
	if b.State() != Closed {
		t.Fatalf("state %v", b.State())
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", Open: "open", HalfOpen: "half-open", State(9): "unknown"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
		if txt, _ := s.MarshalText(); string(txt) != want {
			t.Errorf("%d: text %q", s, txt)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	b := New(Options{ConsecutiveFailures: 3, OpenFor: time.Millisecond, MinRequests: 5})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				tk, ok := b.Allow(time.Now())
				if !ok {
					continue
				}
				switch (w + i) % 5 {
				case 0:
					b.Abandon(tk)
				case 1, 2:
					b.Done(tk, false)
				default:
					b.Done(tk, true)
				}
				if i%100 == 0 {
					_ = b.Stats()
				}
			}
		}()
	}
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probesOut < 0 || b.probesOut > b.opts.HalfOpenProbes {
		t.Fatalf("probe accounting broken: %d out", b.probesOut)
	}
}

func TestAllowDoneDoNotAllocate(t *testing.T) {
	b, c := newBreaker(Options{})
	now := c.Now()
	if a := testing.AllocsPerRun(200, func() {
		tk, _ := b.Allow(now)
		b.Done(tk, true)
	}); a != 0 {
		t.Fatalf("closed path allocates %v", a)
	}
	run(t, b, c, repeat(5, step{}))
	if a := testing.AllocsPerRun(200, func() {
		if _, ok := b.Allow(now); ok {
			t.Fatal("open breaker allowed")
		}
	}); a != 0 {
		t.Fatalf("open path allocates %v", a)
	}
}
