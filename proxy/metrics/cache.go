package metrics

import (
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"
)

// Cache lookup results, the result label of proxy_cache_lookups_total.
const (
	CacheHit    = "hit"
	CacheMiss   = "miss"
	CacheBypass = "bypass"
)

type cacheKey struct{ provider, model, result string }

// CacheStats are the figures of the response cache's store at a scrape.
type CacheStats struct {
	Entries, Bytes, Evictions, Errors, Dropped int64
}

// cacheFuncs holds the callback the cache gauges read; registered once.
type cacheFuncs struct {
	stats atomic.Pointer[func() CacheStats]
}

func (c *cacheFuncs) read() CacheStats {
	if f := c.stats.Load(); f != nil && *f != nil {
		return (*f)()
	}
	return CacheStats{}
}

// CacheLookup counts one request the response cache looked at: a hit
// (answered from the cache, no upstream call and no token usage), a miss,
// or a bypass (not looked up: Cache-Control, a sampled request).
func (s *Set) CacheLookup(provider, model, result string) {
	k := s.known.Load()
	key := cacheKey{k.providers.canon(provider), k.models.canon(model), result}
	c, ok := s.cache.load(key)
	if !ok {
		c = s.cache.loadOrCreate(key, func() *vm.Counter {
			return s.vm.NewCounter(nameCacheLookups + "{" + labels("provider", key.provider, "model", key.model, "result", key.result) + "}")
		})
	}
	c.Inc()
}

// RegisterCacheStats publishes the cache store's figures, read at every
// scrape from stats (safe for concurrent use). Calling it again replaces
// the callback.
func (s *Set) RegisterCacheStats(stats func() CacheStats) {
	s.cacheOnce.Do(func() {
		f := &s.cacheStats
		s.vm.NewGauge(nameCacheEntries, func() float64 { return float64(f.read().Entries) })
		s.vm.NewGauge(nameCacheBytes, func() float64 { return float64(f.read().Bytes) })
		s.vm.NewGauge(nameCacheEvictions, func() float64 { return float64(f.read().Evictions) })
		s.vm.NewGauge(nameCacheErrors, func() float64 { return float64(f.read().Errors) })
		s.vm.NewGauge(nameCacheDropped, func() float64 { return float64(f.read().Dropped) })
	})
	s.cacheStats.stats.Store(&stats)
}
