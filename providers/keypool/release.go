package keypool

import "time"

// Release returns the key and records what the request said about it.
// Releasing a zero or already released lease does nothing.
func (l *Lease) Release(o Outcome) {
	p := l.p
	if p == nil {
		return
	}
	s := &p.slots[l.i]
	l.p = nil
	s.inflight.Add(-1)
	if o.Kind == Ignored {
		return
	}
	nowN := p.opts.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o.Kind {
	case Unauthorized:
		p.reject(s, nowN)
	case RateLimited:
		p.coolDown(s, nowN, o.RetryAfter)
	case OK:
		s.streak429 = 0
		if s.rejectedUntil.Load() != 0 {
			// The probe after a rejection passed: the credential works again.
			s.rejections = 0
			s.rejectedUntil.Store(0)
		}
		p.record(s, nowN, false)
	default:
		p.record(s, nowN, true)
	}
}

// coolDown starts (or extends) a cooldown after a 429.
func (p *Pool) coolDown(s *slot, nowN int64, retryAfter time.Duration) {
	d := retryAfter
	if d <= 0 {
		d = p.opts.BaseCooldown << min(s.streak429, 20)
	}
	s.streak429++
	if d > p.opts.MaxCooldown || d <= 0 {
		d = p.opts.MaxCooldown
	}
	if j := int64(float64(d) * p.opts.Jitter); j > 0 {
		d += time.Duration(p.opts.Rand(j + 1))
	}
	until := nowN + int64(d)
	if until > s.cooldownUntil.Load() {
		s.cooldownUntil.Store(until)
	}
}

// reject takes a key whose credential the upstream refused out of service
// for RejectedFor, doubling with each consecutive rejection up to
// MaxRejectedFor. A key is never out for good on the upstream's word: a
// revoked key costs one probe request per spell, a key refused by mistake
// comes back by itself. Called with s.mu held.
func (p *Pool) reject(s *slot, nowN int64) {
	d := p.opts.RejectedFor << min(s.rejections, 20)
	if d > p.opts.MaxRejectedFor || d <= 0 {
		d = p.opts.MaxRejectedFor
	}
	s.rejections++
	s.rejectedUntil.Store(nowN + int64(d))
}

// record adds an outcome to the window and moves the key between healthy
// and unhealthy. Called with s.mu held.
func (p *Pool) record(s *slot, nowN int64, fail bool) {
	uu := s.unhealthyUntil.Load()
	if uu != 0 && nowN >= uu {
		// The probe after an unhealthy spell decides alone: the old window
		// would otherwise keep the key out however well it now does.
		if fail {
			p.push(s, true)
			s.unhealthyUntil.Store(nowN + int64(p.opts.UnhealthyFor))
			return
		}
		resetWindow(s)
		p.push(s, false)
		s.unhealthyUntil.Store(0)
		return
	}
	p.push(s, fail)
	switch bad := p.unhealthyWindow(s); {
	case bad && uu == 0:
		s.unhealthyUntil.Store(nowN + int64(p.opts.UnhealthyFor))
	case !bad && uu != 0:
		s.unhealthyUntil.Store(0)
	}
}
