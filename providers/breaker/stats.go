package breaker

import "time"

// State is the current position. An open breaker whose cool-off has passed
// reports HalfOpen: the next Allow would let a probe through.
func (b *Breaker) State() State {
	nowN := b.opts.Now().UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st == Open && nowN >= b.openUntil {
		return HalfOpen
	}
	return b.st
}

// RetryAfter is how long an open breaker will keep refusing; 0 otherwise.
func (b *Breaker) RetryAfter(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st != Open {
		return 0
	}
	return max(time.Duration(b.openUntil-now.UnixNano()), 0)
}

// Stats is a breaker's state for /health and metrics.
type Stats struct {
	State State `json:"state"`
	// Requests and Failures are the closed-state outcomes in the window.
	Requests int64 `json:"window_requests"`
	Failures int64 `json:"window_failures"`
	// ConsecutiveFailures is the current run of failures.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// OpenUntil is when an open breaker starts probing; zero otherwise.
	OpenUntil time.Time `json:"open_until,omitzero"`
	// Opens counts trips since New.
	Opens uint64 `json:"opens"`
}

// Stats snapshots the breaker.
func (b *Breaker) Stats() Stats {
	now := b.opts.Now()
	nowN := now.UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{State: b.st, ConsecutiveFailures: b.consec, Opens: b.opens}
	s.Requests, s.Failures = b.window(nowN / b.bucketNs)
	if b.st == Open {
		s.OpenUntil = time.Unix(0, b.openUntil)
		if nowN >= b.openUntil {
			s.State = HalfOpen
		}
	}
	return s
}
