package retry

import (
	"math/rand/v2"
	"time"
)

// Rand is the randomness backoff jitter draws from; *math/rand/v2.Rand
// satisfies it, and so does SharedRand.
type Rand interface {
	// Int64N returns a uniform value in [0, n); n > 0.
	Int64N(n int64) int64
}

// SharedRand draws from math/rand/v2's goroutine-safe global source.
type SharedRand struct{}

// Int64N implements Rand.
func (SharedRand) Int64N(n int64) int64 { return rand.Int64N(n) }

// Policy bounds the retries of one client request. Zero fields take the
// documented defaults.
type Policy struct {
	// MaxAttempts counts upstream attempts, the first included (default 3).
	MaxAttempts int
	// PerTarget caps attempts on one provider/model before moving down the
	// fallback chain (default 2).
	PerTarget int
	// BaseBackoff is the first backoff cap (default 100 ms); it doubles per
	// retry up to MaxBackoff (default 2 s).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxTotal bounds the time from the start of the request to the start of
	// the last attempt (default 30 s).
	MaxTotal time.Duration
	// Decorrelated picks decorrelated jitter (each wait drawn between
	// BaseBackoff and three times the previous one) instead of full jitter.
	Decorrelated bool
}

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.PerTarget <= 0 {
		p.PerTarget = 2
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = 100 * time.Millisecond
	}
	if p.MaxBackoff < p.BaseBackoff {
		p.MaxBackoff = max(2*time.Second, p.BaseBackoff)
	}
	if p.MaxTotal <= 0 {
		p.MaxTotal = 30 * time.Second
	}
	return p
}

// Backoff is the wait before retry number attempt (1 for the first retry):
// full jitter, uniform in [0, min(MaxBackoff, BaseBackoff*2^(attempt-1))].
// Full jitter spreads a burst of clients that failed together.
func (p Policy) Backoff(attempt int, rnd Rand) time.Duration {
	p = p.withDefaults()
	if attempt < 1 {
		attempt = 1
	}
	ceil := p.MaxBackoff
	if shift := attempt - 1; shift < 62 && p.BaseBackoff<<shift > 0 && p.BaseBackoff<<shift < ceil {
		ceil = p.BaseBackoff << shift
	}
	return time.Duration(rnd.Int64N(int64(ceil) + 1))
}

// DecorrelatedBackoff is the wait after a previous wait of prev (0 for the
// first retry): uniform in [BaseBackoff, 3*prev], capped at MaxBackoff.
func (p Policy) DecorrelatedBackoff(prev time.Duration, rnd Rand) time.Duration {
	p = p.withDefaults()
	lo, hi := p.BaseBackoff, min(3*prev, p.MaxBackoff)
	if hi < lo {
		hi = lo
	}
	return lo + time.Duration(rnd.Int64N(int64(hi-lo)+1))
}
