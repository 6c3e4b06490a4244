package stream

import "sync"

// Buffers come from size-classed pools: a stream holds one for its whole
// life, so allocating it per stream would make garbage at the stream rate.
var bufPools = [...]struct {
	size int
	pool sync.Pool
}{{size: 4 << 10}, {size: 16 << 10}, {size: 64 << 10}}

// getBuf returns a buffer of at least n bytes (n rounded up to a class, or
// exactly n above the largest class).
func getBuf(n int) []byte {
	for i := range bufPools {
		c := &bufPools[i]
		if n <= c.size {
			if b, ok := c.pool.Get().(*[]byte); ok {
				return (*b)[:c.size]
			}
			return make([]byte, c.size)
		}
	}
	return make([]byte, n)
}

// putBuf returns b to its pool if it is of a pooled size.
func putBuf(b []byte) {
	for i := range bufPools {
		c := &bufPools[i]
		if cap(b) == c.size {
			b = b[:c.size]
			c.pool.Put(&b)
			return
		}
	}
}
