package cache

import "time"

// Stats are a store's figures for the metrics. A shared store (Redis)
// reports only what this instance saw: its errors and dropped writes.
type Stats struct {
	Entries, Bytes int64
	Evictions      int64
	// Errors counts failed reads and writes; Dropped, writes left out
	// because too many were already under way.
	Errors, Dropped int64
}

// Store keeps entries by key for a time. Get returns the stored bytes,
// which the caller must not change; Put may keep value, which the caller
// must not change afterwards. A store answers a failure as a miss: a
// cache that is down only costs hits.
type Store interface {
	Get(k Key) ([]byte, bool)
	Put(k Key, value []byte, ttl time.Duration)
	Stats() Stats
	Close() error
}
