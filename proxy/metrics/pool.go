package metrics

import (
	"strings"
	"sync/atomic"
)

// poolFuncs holds the current callbacks of one provider's pool gauges.
// The gauges themselves are registered once; re-registering only swaps the
// callbacks, because a name can be registered in a vm.Set only once.
type poolFuncs struct {
	inUse, waiting atomic.Pointer[func() float64]
}

func call(p *atomic.Pointer[func() float64]) float64 {
	if f := p.Load(); f != nil && *f != nil {
		return (*f)()
	}
	return 0
}

// RegisterPoolGauges publishes provider's upstream connection pool: inUse
// and waiting are called at every scrape and must be safe for concurrent
// use. Calling it again for the same provider (a reload that rebuilt the
// pool) replaces the callbacks. The provider label is not bounded by
// Options, since pools exist only for configured providers.
func (s *Set) RegisterPoolGauges(provider string, inUse, waiting func() float64) {
	provider = strings.Clone(provider)
	pf := s.pools.loadOrCreate(provider, func() *poolFuncs {
		pf := &poolFuncs{}
		s.vm.NewGauge(poolName(provider, "in_use"), func() float64 { return call(&pf.inUse) })
		s.vm.NewGauge(poolName(provider, "waiting"), func() float64 { return call(&pf.waiting) })
		return pf
	})
	pf.inUse.Store(&inUse)
	pf.waiting.Store(&waiting)
}

// UnregisterPoolGauges removes provider's pool gauges (provider removed from
// the config).
func (s *Set) UnregisterPoolGauges(provider string) {
	if _, ok := s.pools.remove(provider); ok {
		s.vm.UnregisterMetric(poolName(provider, "in_use"))
		s.vm.UnregisterMetric(poolName(provider, "waiting"))
	}
}

func poolName(provider, state string) string {
	return namePool + "{" + labels("provider", provider, "state", state) + "}"
}
