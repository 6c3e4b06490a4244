package accounts

import (
	"sort"
	"sync"
	"time"

	"github.com/llmproxy/proxy/providers"
)

// Set is a subscription provider's accounts by the key the proxy's pool
// leases them under, kept fresh in the background while the set is open.
type Set struct {
	byKey map[string]*Account
	stop  func()
	// stops are the other background loops (WatchQuota), ended by Close.
	mu    sync.Mutex
	stops []func()
}

// NewSet opens a set and starts refreshing its accounts a quarter of an
// hour before their tokens expire (checked every minute).
func NewSet(byKey map[string]*Account) *Set {
	list := make([]*Account, 0, len(byKey))
	for _, a := range byKey {
		list = append(list, a)
	}
	return &Set{byKey: byKey, stop: KeepFresh(list, time.Minute, 15*time.Minute)}
}

// list is the accounts, in the order of their keys.
func (s *Set) list() []*Account {
	keys := make([]string, 0, len(s.byKey))
	for k := range s.byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*Account, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.byKey[k])
	}
	return out
}

func (s *Set) addStop(f func()) {
	s.mu.Lock()
	s.stops = append(s.stops, f)
	s.mu.Unlock()
}

// Lookup is the account leased as key (nil if none).
func (s *Set) Lookup(key string) *Account { return s.byKey[key] }

// Statuses lists the accounts' states, never their tokens.
func (s *Set) Statuses() []Status {
	out := make([]Status, 0, len(s.byKey))
	for _, a := range s.list() {
		out = append(out, a.Status())
	}
	return out
}

// Usable counts the accounts without a standing failure.
func (s *Set) Usable() int {
	n := 0
	for _, a := range s.byKey {
		if a.Status().LastError == "" {
			n++
		}
	}
	return n
}

// Serving fills in a subscription provider's state from its accounts:
// the keys are the accounts that can serve, and a provider none of whose
// accounts can is down, whatever its connections say.
func (s *Set) Serving(st providers.State) providers.State {
	st.Keys = s.Usable()
	if st.Keys == 0 {
		st.Status = "down"
	}
	return st
}

// Close stops the background refresh and quota checks.
func (s *Set) Close() {
	s.stop()
	s.mu.Lock()
	stops := s.stops
	s.stops = nil
	s.mu.Unlock()
	for _, f := range stops {
		f()
	}
}

// List is the accounts, in the order of their keys.
func (s *Set) List() []*Account { return s.list() }
