package stream

import "sync"

// Buffers come from size-classed pools: a stream holds one for its whole
// life, so allocating it per stream would make garbage at the stream rate.
var bufPools = [...]struct {
	size int
	pool sync.Pool
}{{size: 2 << 10}, {size: 4 << 10}, {size: 16 << 10}, {size: 64 << 10}}

// getBuf returns a buffer of at least n bytes (n rounded up to a class, or
// exactly n above the largest class). The pointer goes back with putBuf, so
// that returning a buffer allocates nothing.
func getBuf(n int) *[]byte {
	for i := range bufPools {
		c := &bufPools[i]
		if n <= c.size {
			if b, ok := c.pool.Get().(*[]byte); ok {
				*b = (*b)[:c.size]
				return b
			}
			b := make([]byte, c.size)
			return &b
		}
	}
	b := make([]byte, n)
	return &b
}

// putBuf returns b to its pool if it is of a pooled size.
func putBuf(b *[]byte) {
	if b == nil {
		return
	}
	for i := range bufPools {
		c := &bufPools[i]
		if cap(*b) == c.size {
			c.pool.Put(b)
			return
		}
	}
}
