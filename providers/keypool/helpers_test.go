package keypool

import (
	"sync"
	"time"
)

// fakeClock is a settable clock shared by a test and the pool.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

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

// maxRand makes jitter deterministic: always the largest value allowed.
func maxRand(n int64) int64 { return n - 1 }

// zeroRand makes jitter vanish.
func zeroRand(int64) int64 { return 0 }

func testPool(keys []Key, o Options, c *fakeClock) *Pool {
	o.Now = c.Now
	if o.Rand == nil {
		o.Rand = zeroRand
	}
	return New(keys, o)
}

func keysN(n int) []Key {
	ks := make([]Key, n)
	for i := range ks {
		ks[i] = Key{Secret: "sk-secret-" + string(rune('a'+i))}
	}
	return ks
}
