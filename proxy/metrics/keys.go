package metrics

import (
	"strings"
	"sync/atomic"
)

// keyFuncs holds the current callback of one provider's key-state gauges.
// As with the pool gauges, the gauges are registered once and a reload
// only swaps the callback.
type keyFuncs struct {
	states []string
	count  atomic.Pointer[func(state string) float64]
}

// RegisterKeyStates publishes how many of provider's keys (its accounts,
// for a subscription provider) are in each of states; count is called at
// every scrape, once per state, and must be safe for concurrent use.
// Calling it again for the same provider (a reload that rebuilt the key
// pool) replaces the callback; the states stay those first given.
func (s *Set) RegisterKeyStates(provider string, states []string, count func(state string) float64) {
	provider = strings.Clone(provider)
	kf := s.keys.loadOrCreate(provider, func() *keyFuncs {
		kf := &keyFuncs{states: append([]string(nil), states...)}
		for _, st := range kf.states {
			s.vm.NewGauge(keysName(provider, st), func() float64 {
				if f := kf.count.Load(); f != nil {
					return (*f)(st)
				}
				return 0
			})
		}
		return kf
	})
	kf.count.Store(&count)
}

// UnregisterKeyStates removes provider's key-state gauges (provider removed
// from the config, or left without keys).
func (s *Set) UnregisterKeyStates(provider string) {
	if kf, ok := s.keys.remove(provider); ok {
		for _, st := range kf.states {
			s.vm.UnregisterMetric(keysName(provider, st))
		}
	}
}

func keysName(provider, state string) string {
	return nameKeys + "{" + labels("provider", provider, "state", state) + "}"
}
