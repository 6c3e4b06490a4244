package metrics

import (
	"sync"
	"sync/atomic"
)

// cowMap is a copy-on-write map: lookups are one atomic load and a map read
// with no lock, so cores serving requests never contend on a mutex or a
// shared reader count; inserts copy the map under a mutex. That suits series
// caches, which reach their (bounded) final size soon after start.
//
// sync.Map would box the struct keys into interfaces and allocate per call.
type cowMap[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

func (c *cowMap[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadOrCreate returns the value for k, calling create (under the write
// lock, at most once per key) when it is missing.
func (c *cowMap[K, V]) loadOrCreate(k K, create func() V) V {
	if v, ok := c.load(k); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	var n int
	if old != nil {
		n = len(*old)
	}
	m := make(map[K]V, n+1)
	if old != nil {
		for kk, vv := range *old {
			m[kk] = vv
		}
	}
	v := create()
	m[k] = v
	c.m.Store(&m)
	return v
}

// remove deletes k and reports the removed value.
func (c *cowMap[K, V]) remove(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	old := c.m.Load()
	if old == nil {
		return zero, false
	}
	v, ok := (*old)[k]
	if !ok {
		return zero, false
	}
	m := make(map[K]V, len(*old))
	for kk, vv := range *old {
		if kk != k {
			m[kk] = vv
		}
	}
	c.m.Store(&m)
	return v, true
}
