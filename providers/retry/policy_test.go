package retry

import (
	"testing"
	"time"
)

// fixedRand returns a fixed fraction of the range: 0 = lowest, 1 = highest.
type fixedRand struct{ top bool }

func (r fixedRand) Int64N(n int64) int64 {
	if r.top {
		return n - 1
	}
	return 0
}

func TestBackoffFullJitter(t *testing.T) {
	p := Policy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	tests := []struct {
		attempt int
		top     bool
		want    time.Duration
	}{
		{1, true, 100 * time.Millisecond},
		{2, true, 200 * time.Millisecond},
		{3, true, 400 * time.Millisecond},
		{4, true, 800 * time.Millisecond},
		{5, true, time.Second},
		{200, true, time.Second}, // no overflow on huge attempt numbers
		{0, true, 100 * time.Millisecond},
		{3, false, 0},
	}
	for _, tc := range tests {
		if got := p.Backoff(tc.attempt, fixedRand{tc.top}); got != tc.want {
			t.Errorf("Backoff(%d, top=%v) = %v, want %v", tc.attempt, tc.top, got, tc.want)
		}
	}
}

func TestBackoffDefaultsAndRange(t *testing.T) {
	var p Policy
	for attempt := 1; attempt < 10; attempt++ {
		for range 50 {
			d := p.Backoff(attempt, SharedRand{})
			if d < 0 || d > 2*time.Second {
				t.Fatalf("default backoff %v out of [0, 2s]", d)
			}
		}
	}
}

func TestDecorrelatedBackoff(t *testing.T) {
	p := Policy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	tests := []struct {
		prev time.Duration
		top  bool
		want time.Duration
	}{
		{0, true, 100 * time.Millisecond},
		{0, false, 100 * time.Millisecond},
		{100 * time.Millisecond, true, 300 * time.Millisecond},
		{100 * time.Millisecond, false, 100 * time.Millisecond},
		{300 * time.Millisecond, true, 900 * time.Millisecond},
		{900 * time.Millisecond, true, time.Second},
	}
	for _, tc := range tests {
		if got := p.DecorrelatedBackoff(tc.prev, fixedRand{tc.top}); got != tc.want {
			t.Errorf("DecorrelatedBackoff(%v, top=%v) = %v, want %v", tc.prev, tc.top, got, tc.want)
		}
	}
}
