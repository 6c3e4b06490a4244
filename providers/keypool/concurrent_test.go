package keypool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentAcquireRelease hammers one pool from many goroutines (run it
// under -race) and checks that no key ever exceeds its MaxConcurrent and that
// every in-flight count returns to zero.
func TestConcurrentAcquireRelease(t *testing.T) {
	keys := []Key{
		{Secret: "a", MaxConcurrent: 2},
		{Secret: "b", MaxConcurrent: 3, Weight: 2},
		{Secret: "c"},
		{Secret: "d", MaxConcurrent: 1},
	}
	p := New(keys, Options{Jitter: -1, BaseCooldown: time.Microsecond, MaxCooldown: 5 * time.Microsecond})
	var live [4]atomic.Int32
	var peak [4]atomic.Int32
	var served atomic.Int64
	const workers, iters = 8, 400
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range iters {
				l, err := p.Acquire(time.Now())
				if err != nil {
					continue // every key busy or cooling: allowed under contention
				}
				k := l.Index()
				n := live[k].Add(1)
				for {
					pk := peak[k].Load()
					if n <= pk || peak[k].CompareAndSwap(pk, n) {
						break
					}
				}
				var o Outcome
				switch (w + i) % 7 {
				case 0:
					o = StatusOutcome(429, 0)
				case 1:
					o = ErrorOutcome()
				default:
					o = Outcome{Kind: OK}
				}
				live[k].Add(-1)
				l.Release(o)
				served.Add(1)
				if i%50 == 0 {
					_ = p.Snapshot()
				}
			}
		}()
	}
	wg.Wait()
	if served.Load() == 0 {
		t.Fatal("no request was served")
	}
	for i, k := range keys {
		if k.MaxConcurrent > 0 && int(peak[i].Load()) > k.MaxConcurrent {
			t.Errorf("key %d peaked at %d in flight, limit %d", i, peak[i].Load(), k.MaxConcurrent)
		}
	}
	for _, s := range p.Snapshot() {
		if s.InFlight != 0 {
			t.Errorf("%s: %d in flight after all released", s.Label, s.InFlight)
		}
	}
}

func TestAcquireReleaseDoesNotAllocate(t *testing.T) {
	c := newClock()
	p := testPool(keysN(8), Options{}, c)
	now := c.Now()
	allocs := testing.AllocsPerRun(200, func() {
		l, err := p.Acquire(now, 3)
		if err != nil {
			t.Fatal(err)
		}
		l.Release(Outcome{Kind: OK})
	})
	if allocs != 0 {
		t.Fatalf("Acquire+Release allocates %v times", allocs)
	}
}
