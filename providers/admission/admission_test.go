package admission

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSemRejectsBeyondLimitAndQueue(t *testing.T) {
	s := NewSem("openai", SemOptions{Limit: 2, Queue: 0, RetryAfter: 3 * time.Second, Status: 429})
	r1, err1 := s.Acquire(nil)
	r2, err2 := s.Acquire(nil)
	if err1 != nil || err2 != nil || s.InUse() != 2 {
		t.Fatalf("within limit: %v %v in use %d", err1, err2, s.InUse())
	}
	_, err := s.Acquire(nil)
	var oe *OverloadError
	if !errors.As(err, &oe) || !errors.Is(err, ErrOverloaded) {
		t.Fatalf("over limit: %v", err)
	}
	if oe.Scope != "openai" || oe.Status != 429 || oe.RetryAfterSeconds() != 3 || oe.Queued {
		t.Fatalf("overload detail %+v", oe)
	}
	r1()
	r3, err := s.Acquire(nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	r2()
	r3()
	if s.InUse() != 0 {
		t.Fatalf("in use %d", s.InUse())
	}
}

func TestSemQueue(t *testing.T) {
	tests := []struct {
		name    string
		handoff bool // the holder releases while the waiter waits
		abandon bool // the waiter's client goes away
		wantErr error
		queued  bool
	}{
		{"slot handed to waiter", true, false, nil, false},
		{"wait times out", false, false, ErrOverloaded, true},
		{"waiter abandons", false, true, ErrAbandoned, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxWait := 50 * time.Millisecond
			if tc.handoff || tc.abandon {
				maxWait = time.Minute // only the event under test may end the wait
			}
			s := NewSem("p", SemOptions{Limit: 1, Queue: 1, MaxWait: maxWait})
			hold, err := s.Acquire(nil)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			type res struct {
				rel func()
				err error
			}
			got := make(chan res, 1)
			go func() {
				rel, err := s.Acquire(done)
				got <- res{rel, err}
			}()
			// Wait until the waiter is queued, then check the queue is full.
			for limit := time.Now().Add(10 * time.Second); s.Waiting() != 1; time.Sleep(time.Millisecond) {
				if time.Now().After(limit) {
					t.Fatal("waiter never queued")
				}
			}
			var oe *OverloadError
			if _, err := s.Acquire(nil); !errors.As(err, &oe) || oe.Queued {
				t.Fatalf("queue full: want immediate rejection, got %v", err)
			}
			switch {
			case tc.handoff:
				hold()
			case tc.abandon:
				close(done)
			}
			r := <-got
			if !errors.Is(r.err, tc.wantErr) && !(tc.wantErr == nil && r.err == nil) {
				t.Fatalf("waiter got %v, want %v", r.err, tc.wantErr)
			}
			if errors.As(r.err, &oe) && oe.Queued != tc.queued {
				t.Fatalf("queued flag %v", oe.Queued)
			}
			if r.rel != nil {
				r.rel()
			}
			if !tc.handoff {
				hold()
			}
			if s.InUse() != 0 || s.Waiting() != 0 {
				t.Fatalf("leftover: in use %d waiting %d", s.InUse(), s.Waiting())
			}
		})
	}
}

func TestLimiterAdmit(t *testing.T) {
	l := NewLimiter(LimiterOptions{MaxRequests: 3, MaxStreams: 1, RetryAfter: 2 * time.Second})
	relStream, err := l.Admit(true)
	if err != nil {
		t.Fatal(err)
	}
	var oe *OverloadError
	if _, err := l.Admit(true); !errors.As(err, &oe) || oe.Scope != "streams" || oe.Status != 503 || oe.RetryAfterSeconds() != 2 {
		t.Fatalf("second stream: %v", err)
	}
	if l.Requests().InUse() != 1 {
		t.Fatalf("rejected stream kept a request slot: %d", l.Requests().InUse())
	}
	r1, err1 := l.Admit(false)
	r2, err2 := l.Admit(false)
	if err1 != nil || err2 != nil {
		t.Fatalf("requests within bound: %v %v", err1, err2)
	}
	if _, err := l.Admit(false); !errors.As(err, &oe) || oe.Scope != "requests" {
		t.Fatalf("fourth request: %v", err)
	}
	relStream()
	r1()
	r2()
	if l.Requests().InUse() != 0 || l.Streams().InUse() != 0 {
		t.Fatal("slots leaked")
	}
	p := NewSem("openai", SemOptions{Limit: 1, Status: 429})
	rel, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Acquire(nil); !errors.As(err, &oe) || oe.Status != 429 {
		t.Fatalf("provider bound: %v", err)
	}
	rel()
	unlimited := NewSem("unconfigured", SemOptions{})
	for range 100 {
		if _, err := unlimited.Acquire(nil); err != nil {
			t.Fatalf("unlimited Sem limited: %v", err)
		}
	}
	un := NewLimiter(LimiterOptions{})
	for range 100 {
		if _, err := un.Admit(true); err != nil {
			t.Fatalf("unlimited limiter rejected: %v", err)
		}
	}
}

func TestSemConcurrentBound(t *testing.T) {
	s := NewSem("p", SemOptions{Limit: 3, Queue: 4, MaxWait: 5 * time.Second})
	var live, peak, served atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				rel, err := s.Acquire(nil)
				if err != nil {
					continue
				}
				n := live.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				served.Add(1)
				live.Add(-1)
				rel()
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 3 || served.Load() == 0 || s.InUse() != 0 || s.Waiting() != 0 {
		t.Fatalf("peak %d served %d in use %d waiting %d", peak.Load(), served.Load(), s.InUse(), s.Waiting())
	}
}

func TestLimiterFastPathsDoNotAllocate(t *testing.T) {
	l := NewLimiter(LimiterOptions{MaxRequests: 10, MaxStreams: 5})
	p := NewSem("p", SemOptions{Limit: 1})
	if a := testing.AllocsPerRun(200, func() {
		rel, err := l.Admit(true)
		if err != nil {
			t.Fatal(err)
		}
		prel, err := p.Acquire(nil)
		if err != nil {
			t.Fatal(err)
		}
		prel()
		rel()
	}); a != 0 {
		t.Fatalf("admit path allocates %v", a)
	}
	hold, _ := p.Acquire(nil)
	defer hold()
	if a := testing.AllocsPerRun(200, func() {
		if _, err := p.Acquire(nil); err == nil {
			t.Fatal("over limit admitted")
		}
	}); a != 0 {
		t.Fatalf("rejection path allocates %v", a)
	}
}
