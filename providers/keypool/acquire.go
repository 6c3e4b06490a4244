package keypool

import (
	"errors"
	"strconv"
	"time"
)

// ErrNoKey is matched (errors.Is) by every *NoKeyError.
var ErrNoKey = errors.New("keypool: no key available")

// NoKeyError says why Acquire found no key and when one may be back.
type NoKeyError struct {
	// Until is the soonest end of a cooldown among all the pool's keys,
	// excluded ones included (exclusion lasts one request, a cooldown does
	// not); zero when no key is cooling.
	Until time.Time
	// Excluded, Cooling, Disabled and Busy count the keys by reason.
	Excluded, Cooling, Disabled, Busy int
}

func (e *NoKeyError) Error() string {
	return "keypool: no key available (" + strconv.Itoa(e.Excluded) + " excluded, " + strconv.Itoa(e.Cooling) + " cooling, " +
		strconv.Itoa(e.Disabled) + " disabled, " + strconv.Itoa(e.Busy) + " at limit)"
}

// Unwrap makes errors.Is(err, ErrNoKey) hold.
func (e *NoKeyError) Unwrap() error { return ErrNoKey }

// RetryAfter suggests a Retry-After for the client: the time until Until,
// rounded up to whole seconds, at least one second; 0 when no key is
// cooling (nothing known: the caller picks its default).
func (e *NoKeyError) RetryAfter(now time.Time) time.Duration {
	if e.Until.IsZero() {
		return 0
	}
	d := e.Until.Sub(now)
	if d < time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// Lease is the right to use one key for one request. Release it exactly
// once. It is a value so that Acquire does not allocate; Release zeroes it,
// so releasing the same variable twice is harmless, but do not copy a lease
// and release both copies.
type Lease struct {
	p *Pool
	i int32
}

// Valid reports whether the lease holds a key (it is not zero or released).
func (l *Lease) Valid() bool { return l.p != nil }

// Secret is the credential to send upstream.
func (l *Lease) Secret() string { return l.p.slots[l.i].secret }

// Label is the key's display id, for logs.
func (l *Lease) Label() string { return l.p.slots[l.i].label }

// Index is the key's position in the pool, for Acquire's exclude list.
func (l *Lease) Index() int { return int(l.i) }

// Acquire leases the best available key, skipping the key indexes in
// exclude (keys already tried for this request). It never blocks.
func (p *Pool) Acquire(now time.Time, exclude ...int) (Lease, error) {
	n := len(p.slots)
	if n == 0 {
		return Lease{}, &NoKeyError{}
	}
	nowN := now.UnixNano()
	// A lost CAS race means another request took the last slot of the chosen
	// key; rescanning a bounded number of times keeps Acquire wait-free.
	for try := 0; try <= n; try++ {
		start := int(p.rr.Add(1) % uint64(n))
		vt := p.vtime.Load()
		best, bestLimit := -1, int32(0)
		last, lastLimit := -1, int32(0) // best unhealthy key, the last resort
		for j := 0; j < n; j++ {
			i := start + j
			if i >= n {
				i -= n
			}
			if excluded(i, exclude) {
				continue
			}
			s := &p.slots[i]
			if s.disabled.Load() || s.cooldownUntil.Load() > nowN {
				continue
			}
			limit := s.max
			if ru := s.rejectedUntil.Load(); ru != 0 {
				if nowN < ru {
					continue
				}
				limit = 1 // probing a rejected credential: one request decides
			}
			resort := false
			if uu := s.unhealthyUntil.Load(); uu != 0 {
				if nowN < uu {
					resort = true
				} else {
					limit = 1 // probing: one request decides
				}
			}
			if limit > 0 && s.inflight.Load() >= limit {
				continue
			}
			if resort {
				if last < 0 || p.better(i, last, vt) {
					last, lastLimit = i, limit
				}
				continue
			}
			if best < 0 || p.better(i, best, vt) {
				best, bestLimit = i, limit
			}
		}
		if best < 0 {
			best, bestLimit = last, lastLimit
		}
		if best < 0 {
			return Lease{}, p.noKey(nowN, exclude)
		}
		s := &p.slots[best]
		if !reserve(s, bestLimit) {
			continue
		}
		e := max(s.pass.Load(), vt)
		s.pass.Store(e + s.stride)
		for {
			cur := p.vtime.Load()
			if e <= cur || p.vtime.CompareAndSwap(cur, e) {
				break
			}
		}
		return Lease{p: p, i: int32(best)}, nil
	}
	return Lease{}, p.noKey(nowN, exclude)
}

// better reports whether key i should be preferred to key j: fewer in-flight
// requests per weight first, then the smaller weighted share served so far.
func (p *Pool) better(i, j int, vt uint64) bool {
	a, b := &p.slots[i], &p.slots[j]
	la := int64(a.inflight.Load()) * b.weight
	lb := int64(b.inflight.Load()) * a.weight
	if la != lb {
		return la < lb
	}
	return max(a.pass.Load(), vt) < max(b.pass.Load(), vt)
}

func reserve(s *slot, limit int32) bool {
	for {
		v := s.inflight.Load()
		if limit > 0 && v >= limit {
			return false
		}
		if s.inflight.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func excluded(i int, exclude []int) bool {
	for _, x := range exclude {
		if x == i {
			return true
		}
	}
	return false
}

func (p *Pool) noKey(nowN int64, exclude []int) error {
	e := &NoKeyError{}
	var soonest int64
	for i := range p.slots {
		s := &p.slots[i]
		cu := s.cooldownUntil.Load()
		out := s.disabled.Load() || s.rejectedUntil.Load() > nowN
		if cu > nowN && !out && (soonest == 0 || cu < soonest) {
			soonest = cu
		}
		switch {
		case excluded(i, exclude):
			e.Excluded++
		case out:
			e.Disabled++
		case cu > nowN:
			e.Cooling++
		default:
			e.Busy++
		}
	}
	if soonest != 0 {
		e.Until = time.Unix(0, soonest)
	}
	return e
}
