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
	gaps    Gaps
	rng     *rand.Rand
	pos     float64 // position in cumulative-arrival space
	started bool
}

// Gaps is the distribution of the gaps between arrivals, in units of the
// mean gap: constant, exponential (Poisson arrivals) or gamma with shape
// Shape (coefficient of variation 1/sqrt(Shape): below 1 it is burstier
// than Poisson, above 1 more regular).
type Gaps struct {
	Kind  string // "constant", "poisson" or "gamma"
	Shape float64
}

var (
	gapsConstant = Gaps{Kind: "constant"}
	gapsPoisson  = Gaps{Kind: "poisson"}
)

// NewSchedule returns a schedule of rate req/s after a linear ramp; seed makes
// random arrivals reproducible.
func NewSchedule(rate float64, ramp time.Duration, gaps Gaps, seed uint64) *Schedule {
	return &Schedule{
		rate: rate,
		ramp: ramp.Seconds(),
		gaps: gaps,
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Next returns the offset of the next intended send.
func (s *Schedule) Next() time.Duration {
	if s.started {
		switch s.gaps.Kind {
		case "poisson":
			s.pos += s.rng.ExpFloat64()
		case "gamma":
			s.pos += gammaUnitMean(s.rng, s.gaps.Shape)
		default:
			s.pos++
		}
	} else if s.gaps.Kind == "poisson" {
		// A Poisson process has no arrival at exactly zero.
		s.pos += s.rng.ExpFloat64()
	}
	s.started = true
	return time.Duration(s.invert(s.pos) * float64(time.Second))
}

// gammaUnitMean draws from Gamma(k, 1/k), whose mean is 1, by Marsaglia
// and Tsang's method (with the usual boost for k < 1).
func gammaUnitMean(r *rand.Rand, k float64) float64 {
	boost := 1.0
	if k < 1 {
		boost = math.Pow(r.Float64(), 1/k)
		k++
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			shape := k
			if boost != 1 {
				shape = k - 1
			}
			return boost * d * v / shape
		}
	}
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
