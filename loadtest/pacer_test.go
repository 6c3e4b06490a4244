package loadtest

import (
	"math"
	"testing"
	"time"
)

// virtualClock wakes sleepers instantly, overshooting every wake-up by a
// fixed amount as a loaded scheduler would; it records when each sleep
// returned.
type virtualClock struct {
	now       time.Time
	overshoot time.Duration
	wakes     []time.Time
}

func (c *virtualClock) Now() time.Time { return c.now }

func (c *virtualClock) SleepUntil(t time.Time, done <-chan struct{}) bool {
	if isDone(done) {
		return false
	}
	if t.After(c.now) {
		c.now = t.Add(c.overshoot)
	}
	c.wakes = append(c.wakes, c.now)
	return true
}

// runPace drives pace on the virtual clock and returns the tickets.
func runPace(clock *virtualClock, dur time.Duration, sched *Schedule, total int) ([]ticket, int) {
	out := make(chan ticket, total)
	start := clock.now
	n := pace(clock, start, start.Add(dur), sched, total, out, make(chan struct{}))
	var got []ticket
	for t := range out {
		got = append(got, t)
	}
	return got, n
}

func TestPaceConstantDoesNotDrift(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		dur       time.Duration
		overshoot time.Duration
		want      int
	}{
		{"exact clock", 100, 10 * time.Second, 0, 1000},
		{"30% late wake-ups", 100, 10 * time.Second, 3 * time.Millisecond, 1000},
		{"fast rate", 20000, time.Second, 20 * time.Microsecond, 20000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &virtualClock{now: time.Unix(1000, 0), overshoot: tc.overshoot}
			start := clock.now
			got, n := runPace(clock, tc.dur, NewSchedule(tc.rate, 0, gapsConstant, 1), 100_000)
			if n != tc.want || len(got) != tc.want {
				t.Fatalf("emitted %d (returned %d), want %d", len(got), n, tc.want)
			}
			gap := time.Duration(float64(time.Second) / tc.rate)
			for i, tk := range got {
				if want := start.Add(time.Duration(i) * gap); tk.intended.Sub(want).Abs() > time.Microsecond {
					t.Fatalf("ticket %d intended at %v, want %v", i, tk.intended.Sub(start), want.Sub(start))
				}
				if tk.seq != i {
					t.Fatalf("ticket %d has seq %d", i, tk.seq)
				}
				// A late wake-up delays only its own send, never the next ones.
				if late := clock.wakes[i].Sub(tk.intended); late > tc.overshoot {
					t.Fatalf("ticket %d woke %v late, overshoot is %v", i, late, tc.overshoot)
				}
			}
		})
	}
}

func TestPaceRamp(t *testing.T) {
	// rate 100/s reached after a 2 s linear ramp: N(t) = 25 t² for t < 2,
	// then 100 + 100 (t - 2).
	tests := []struct {
		dur  time.Duration
		want int
	}{
		{time.Second, 25},
		{2 * time.Second, 100},
		{10 * time.Second, 900},
	}
	for _, tc := range tests {
		clock := &virtualClock{now: time.Unix(0, 0)}
		got, _ := runPace(clock, tc.dur, NewSchedule(100, 2*time.Second, gapsConstant, 1), 100_000)
		if d := len(got) - tc.want; d < -1 || d > 1 {
			t.Errorf("ramp over %v: %d sends, want %d±1", tc.dur, len(got), tc.want)
		}
	}
}

func TestPacePoisson(t *testing.T) {
	const rate = 1000.0
	clock := &virtualClock{now: time.Unix(0, 0)}
	got, _ := runPace(clock, 10*time.Second, NewSchedule(rate, 0, gapsPoisson, 42), 100_000)
	// Count is Poisson(10000): sd 100, allow 5 sd.
	if n := len(got); math.Abs(float64(n)-10*rate) > 500 {
		t.Fatalf("%d arrivals in 10 s at %v/s", n, rate)
	}
	var sum, sq float64
	for i := 1; i < len(got); i++ {
		g := got[i].intended.Sub(got[i-1].intended).Seconds()
		sum += g
		sq += g * g
	}
	k := float64(len(got) - 1)
	mean := sum / k
	cv := math.Sqrt(sq/k-mean*mean) / mean
	if math.Abs(mean-1/rate)/(1/rate) > 0.05 || cv < 0.9 || cv > 1.1 {
		t.Errorf("gaps mean %.6f s (want %.6f), coefficient of variation %.3f (exponential: 1)", mean, 1/rate, cv)
	}
	again, _ := runPace(&virtualClock{now: time.Unix(0, 0)}, 10*time.Second, NewSchedule(rate, 0, gapsPoisson, 42), 100_000)
	if len(again) != len(got) || again[len(again)-1].intended != got[len(got)-1].intended {
		t.Error("same seed gave a different schedule")
	}
}

func TestPaceStops(t *testing.T) {
	clock := &virtualClock{now: time.Unix(0, 0)}
	if got, n := runPace(clock, time.Hour, NewSchedule(100, 0, gapsConstant, 1), 50); len(got) != 50 || n != 50 {
		t.Errorf("request bound: %d sends, returned %d, want 50", len(got), n)
	}
	done := make(chan struct{})
	close(done)
	out := make(chan ticket, 10)
	if n := pace(clock, clock.now, clock.now.Add(time.Hour), NewSchedule(100, 0, gapsConstant, 1), 10, out, done); n != 0 {
		t.Errorf("cancelled pacer emitted %d", n)
	}
	if _, open := <-out; open {
		t.Error("cancelled pacer left its channel open")
	}
}

func TestStreamedFraction(t *testing.T) {
	for _, f := range []float64{0, 0.25, 0.5, 0.7, 1} {
		n := 0
		for seq := 0; seq < 1000; seq++ {
			if streamed(seq, f) {
				n++
			}
		}
		if want := int(1000 * f); n != want {
			t.Errorf("fraction %v: %d of 1000 streamed, want %d", f, n, want)
		}
	}
}

// TestPaceGamma checks bursty arrivals: the mean rate holds and the gaps
// vary with the coefficient of variation 1/sqrt(k) of the chosen shape.
func TestPaceGamma(t *testing.T) {
	for _, k := range []float64{0.25, 1, 4} {
		const rate = 200.0
		clock := &virtualClock{now: time.Unix(0, 0)}
		got, _ := runPace(clock, 100*time.Second, NewSchedule(rate, 0, Gaps{Kind: "gamma", Shape: k}, 7), 1_000_000)
		if n := float64(len(got)); math.Abs(n-rate*100) > 0.05*rate*100 {
			t.Errorf("k=%v: %v arrivals in 100 s, want about %v", k, n, rate*100)
		}
		var sum, sq float64
		for i := 1; i < len(got); i++ {
			g := got[i].intended.Sub(got[i-1].intended).Seconds()
			sum += g
			sq += g * g
		}
		n := float64(len(got) - 1)
		mean := sum / n
		cv := math.Sqrt(sq/n-mean*mean) / mean
		if want := 1 / math.Sqrt(k); math.Abs(cv-want) > 0.1*want {
			t.Errorf("k=%v: gap CV %.3f, want %.3f", k, cv, want)
		}
	}
}
