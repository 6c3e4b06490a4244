package keypool

import "time"

// Disable takes keys with this label out of service until a passing
// health check or a reload.
func (p *Pool) Disable(label string) bool {
	return p.each(label, func(s *slot) { s.disabled.Store(true) })
}

// ReportHealthCheck feeds the result of an out-of-band check of a key. A
// pass re-enables a disabled or unhealthy key (a cooldown still runs out, a
// check does not prove the rate limit has lifted); a failure marks the key
// unhealthy for UnhealthyFor without disabling it.
func (p *Pool) ReportHealthCheck(label string, ok bool) bool {
	nowN := p.opts.Now().UnixNano()
	return p.each(label, func(s *slot) {
		if ok {
			s.disabled.Store(false)
			clearRejection(s)
			s.unhealthyUntil.Store(0)
			resetWindow(s)
			return
		}
		s.unhealthyUntil.Store(nowN + int64(p.opts.UnhealthyFor))
	})
}

// ClearRejections puts back every key the upstream rejected, as a reload
// does: the operator may just have fixed the account behind it. Keys an
// operator disabled stay out.
func (p *Pool) ClearRejections() {
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		clearRejection(s)
		s.mu.Unlock()
	}
}

// clearRejection forgets a credential rejection. Called with s.mu held.
func clearRejection(s *slot) {
	s.rejections = 0
	s.rejectedUntil.Store(0)
}

func (p *Pool) each(label string, f func(*slot)) bool {
	found := false
	for i := range p.slots {
		s := &p.slots[i]
		if s.label != label {
			continue
		}
		found = true
		s.mu.Lock()
		f(s)
		s.mu.Unlock()
	}
	return found
}

// Snapshot reports every key's state for /health, in configuration order.
func (p *Pool) Snapshot() []KeyState {
	now := p.opts.Now()
	nowN := now.UnixNano()
	out := make([]KeyState, len(p.slots))
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		n, f := s.n, onesInWindow(s)
		s.mu.Unlock()
		ks := KeyState{
			Label:           s.label,
			InFlight:        int(s.inflight.Load()),
			Weight:          int(s.weight),
			MaxConcurrent:   int(s.max),
			WindowSuccesses: n - f,
			WindowFailures:  f,
		}
		if uu := s.unhealthyUntil.Load(); uu != 0 {
			ks.UnhealthyUntil = time.Unix(0, uu)
			ks.State = Unhealthy
		}
		if cu := s.cooldownUntil.Load(); cu > nowN {
			ks.CooldownUntil = time.Unix(0, cu)
			ks.State = Cooldown
		}
		if ru := s.rejectedUntil.Load(); ru > nowN {
			ks.DisabledUntil = time.Unix(0, ru)
			ks.State = Disabled
		}
		if s.disabled.Load() {
			ks.State = Disabled
		}
		out[i] = ks
	}
	return out
}
