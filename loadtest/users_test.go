package loadtest

import (
	"io"
	"testing"
	"time"
)

// TestTierPacing runs the light tier's schedule (10 users x 50 requests
// over 60 s, 2 s ramp) on a virtual clock against a target that answers in
// a fixed time. Every user joins at its ramp-in time, paces its own 50
// requests over the rest of the minute (never sending before the previous
// answer is in), and the run spans the tier's duration instead of
// finishing in a burst.
func TestTierPacing(t *testing.T) {
	cfg, err := parseConfig([]string{"--tier", "light"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Users != 10 || cfg.Requests != 50 || cfg.Duration != time.Minute {
		t.Fatalf("light tier is %d x %d over %v", cfg.Users, cfg.Requests, cfg.Duration)
	}
	tests := []struct {
		name    string
		service time.Duration // how long each answer takes
		wantAll bool          // every user sends all 50
	}{
		{"fast target", 30 * time.Millisecond, true},
		{"answers slower than the pace", 3 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			end := start.Add(cfg.Duration)
			active, total := 0, 0
			var lastSend time.Time
			for u := 0; u < cfg.Users; u++ {
				// Users are independent in a closed loop: each gets its own
				// virtual clock, advanced by the answers it waits for.
				clock := &virtualClock{now: start}
				plan := planUser(u, cfg.Users, cfg.Requests, start, end, cfg.Ramp, true)
				joinAt := start.Add(cfg.Ramp * time.Duration(u) / time.Duration(cfg.Users))
				var sends, dues []time.Time
				n := runUser(clock, plan, end, make(chan struct{}), func(k int, due time.Time) {
					sends = append(sends, clock.now)
					dues = append(dues, due)
					clock.now = clock.now.Add(tc.service)
				})
				if n != len(sends) {
					t.Fatalf("user %d: returned %d, sent %d", u, n, len(sends))
				}
				if n > 0 {
					active++
				}
				total += n
				if len(sends) == 0 || sends[0] != joinAt {
					t.Fatalf("user %d: first send %v, want its ramp-in at %v", u, sends, joinAt.Sub(start))
				}
				wantEvery := end.Sub(joinAt) / time.Duration(cfg.Requests)
				for k := range sends {
					if want := joinAt.Add(wantEvery * time.Duration(k)); dues[k] != want {
						t.Fatalf("user %d request %d due %v, want %v", u, k, dues[k].Sub(start), want.Sub(start))
					}
					if sends[k].Before(dues[k]) || !sends[k].Before(end) {
						t.Fatalf("user %d request %d sent at %v (due %v, cap %v)", u, k,
							sends[k].Sub(start), dues[k].Sub(start), cfg.Duration)
					}
					if k > 0 && sends[k].Sub(sends[k-1]) < tc.service {
						t.Fatalf("user %d request %d sent before the previous answer", u, k)
					}
				}
				if tc.wantAll && n != cfg.Requests {
					t.Fatalf("user %d sent %d of %d", u, n, cfg.Requests)
				}
				if sends[len(sends)-1].After(lastSend) {
					lastSend = sends[len(sends)-1]
				}
			}
			if active != cfg.Users {
				t.Errorf("%d of %d users active", active, cfg.Users)
			}
			// The last sends come in the tier's last seconds, not in a
			// burst at the start.
			if span := lastSend.Sub(start); span < 55*time.Second || span >= cfg.Duration {
				t.Errorf("last send at %v, want within the last 5 s of %v", span, cfg.Duration)
			}
			if !tc.wantAll && total >= cfg.Users*cfg.Requests {
				t.Errorf("a target slower than the pace still got all %d requests before the cap", total)
			}
			t.Logf("%d requests from %d users, last send at %v", total, active, lastSend.Sub(start))
		})
	}
}

// TestTierScaleAndOverrides checks that --scale stretches the tier and that
// explicit flags win over it.
func TestTierScaleAndOverrides(t *testing.T) {
	c, err := parseConfig([]string{"--tier", "heavy", "--scale", "0.1", "--users", "7", "-d", "4s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The ramp keeps its share (1 s of 30 s) of the duration given.
	if c.Users != 7 || c.Requests != 20 || c.Duration != 4*time.Second || c.Ramp.Round(time.Millisecond) != 133*time.Millisecond {
		t.Errorf("got %d users x %d requests over %v, ramp %v", c.Users, c.Requests, c.Duration, c.Ramp)
	}
	// The report must not call this load "heavy".
	if c.Tier != "custom" || c.FromTier != "heavy" {
		t.Errorf("tier %q from %q", c.Tier, c.FromTier)
	}
	if d, _ := parseConfig([]string{"--tier", "stress", "--scale", "0.5"}, io.Discard); d.Tier != "stress" {
		t.Errorf("a scaled tier is reported as %q", d.Tier)
	}
}

// TestUnpacedUser: with --no-pace a user sends back to back until its
// budget or the cap, each request due when it is sent.
func TestUnpacedUser(t *testing.T) {
	start := time.Unix(1000, 0)
	end := start.Add(time.Second)
	clock := &virtualClock{now: start}
	var dues []time.Time
	n := runUser(clock, planUser(0, 1, 1000, start, end, 0, false), end, make(chan struct{}), func(k int, due time.Time) {
		if due != clock.now {
			t.Fatalf("request %d due %v, sent %v", k, due.Sub(start), clock.now.Sub(start))
		}
		dues = append(dues, due)
		clock.now = clock.now.Add(10 * time.Millisecond)
	})
	if n != 100 {
		t.Errorf("sent %d in 1 s of 10 ms answers, want 100", n)
	}
}

// TestPhasesWithBaseline: target and baseline alternate, each user's budget
// splits over an endpoint's two phases, and only each endpoint's first
// phase has a warm-up.
func TestPhasesWithBaseline(t *testing.T) {
	cfg, err := parseConfig([]string{"--tier", "light", "--target", "http://a", "--baseline", "http://b"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: cfg, eps: []*endpoint{{name: "target"}, {name: "baseline"}}}
	got := r.phases()
	want := []phase{{0, 25, 15 * time.Second, 500 * time.Millisecond, 500 * time.Millisecond},
		{1, 25, 15 * time.Second, 500 * time.Millisecond, 500 * time.Millisecond},
		{0, 25, 15 * time.Second, 500 * time.Millisecond, 0}, {1, 25, 15 * time.Second, 500 * time.Millisecond, 0}}
	if len(got) != len(want) {
		t.Fatalf("phases %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("phase %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestBaselineConcurrency: the embedded model-like mock runs target and
// baseline at once (its answers are waits), a CPU-bound setup alternates.
func TestBaselineConcurrency(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--mock-profile", "instant"}, false},
		{[]string{"--target", "http://a", "--baseline", "http://b"}, false},
		{[]string{"--target", "http://a", "--baseline", "http://b", "--alternate=false"}, true},
		{[]string{"--alternate"}, false},
	} {
		c, err := parseConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.Concurrent != tc.want {
			t.Errorf("%v: concurrent %v, want %v", tc.args, c.Concurrent, tc.want)
		}
	}
}
