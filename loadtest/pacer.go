package loadtest

import (
	"math"
	"math/rand/v2"
	"time"
)

// Schedule yields the intended send times of an open loop as offsets from
// the start of the run. The rate ramps linearly from zero to Rate over Ramp,
// then stays at Rate. Arrivals are placed by inverting the cumulative
// arrival count N(t), so a constant schedule never drifts and a Poisson
// schedule stays Poisson (unit-rate exponential gaps in N-space) even while
// the rate ramps.
type Schedule struct {
	rate    float64
	ramp    float64 // seconds
	poisson bool
	rng     *rand.Rand
	pos     float64 // position in cumulative-arrival space
	started bool
}

// NewSchedule returns a schedule of rate req/s after a linear ramp; seed makes
// Poisson arrivals reproducible.
func NewSchedule(rate float64, ramp time.Duration, poisson bool, seed uint64) *Schedule {
	return &Schedule{
		rate:    rate,
		ramp:    ramp.Seconds(),
		poisson: poisson,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Next returns the offset of the next intended send.
func (s *Schedule) Next() time.Duration {
	switch {
	case s.poisson:
		s.pos += s.rng.ExpFloat64()
	case s.started:
		s.pos++
	}
	s.started = true
	return time.Duration(s.invert(s.pos) * float64(time.Second))
}

// invert returns t such that N(t) = x, where N(t) = rate*t²/(2*ramp) during
// the ramp and rate*ramp/2 + rate*(t-ramp) after it.
func (s *Schedule) invert(x float64) float64 {
	if s.rate <= 0 {
		return math.Inf(1)
	}
	if s.ramp > 0 && x < s.rate*s.ramp/2 {
		return math.Sqrt(2 * s.ramp * x / s.rate)
	}
	return x/s.rate + s.ramp/2
}

// ticket is one open-loop send order: the request's sequence number and the
// time it should have been sent, from which its latency is measured.
type ticket struct {
	seq      int
	intended time.Time
}

// pace emits up to total tickets on out at their intended times, stopping at
// end or when done closes; it closes out when finished and returns how many
// it emitted. Sleeping until an
// absolute time (not for a relative gap) keeps a late wake-up from shifting
// every later send.
func pace(clock Clock, start, end time.Time, sched *Schedule, total int, out chan<- ticket, done <-chan struct{}) int {
	defer close(out)
	for seq := 0; seq < total; seq++ {
		at := start.Add(sched.Next())
		if !at.Before(end) {
			return seq
		}
		if !clock.SleepUntil(at, done) {
			return seq
		}
		select {
		case out <- ticket{seq: seq, intended: at}:
		case <-done:
			return seq
		}
	}
	return total
}
