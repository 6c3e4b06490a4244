package keypool

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// use acquires key i (excluding the others) and releases it with o.
func use(t *testing.T, p *Pool, c *fakeClock, i int, o Outcome) {
	t.Helper()
	var ex []int
	for j := range p.Len() {
		if j != i {
			ex = append(ex, j)
		}
	}
	l, err := p.Acquire(c.Now(), ex...)
	if err != nil || l.Index() != i {
		t.Fatalf("acquire key %d: got %d, %v", i, l.Index(), err)
	}
	l.Release(o)
}

func stateOf(p *Pool, i int) KeyState { return p.Snapshot()[i] }

func TestHealthWindow(t *testing.T) {
	ok, bad := Outcome{Kind: OK}, ErrorOutcome()
	tests := []struct {
		name     string
		outcomes []Outcome
		want     State
	}{
		{"one failure never disables", []Outcome{bad}, Healthy},
		{"below min samples", []Outcome{bad, bad, bad, bad}, Healthy},
		{"min samples all failed", []Outcome{bad, bad, bad, bad, bad}, Unhealthy},
		{"half is not over half", []Outcome{ok, bad, ok, bad, ok, bad}, Healthy},
		{"mostly failing", []Outcome{ok, bad, bad, ok, bad, bad}, Unhealthy},
		{"5xx counts as failure", []Outcome{ok, StatusOutcome(502, 0), StatusOutcome(503, 0), StatusOutcome(500, 0), StatusOutcome(504, 0)}, Unhealthy},
		{"client errors count for the key", []Outcome{StatusOutcome(400, 0), StatusOutcome(404, 0), bad, bad, StatusOutcome(422, 0)}, Healthy},
		{"ignored outcomes are not samples", []Outcome{bad, {Kind: Ignored}, {Kind: Ignored}, bad, bad, bad}, Healthy},
		// Window of 8: old failures slide out as successes come in.
		{"old failures slide out", []Outcome{bad, bad, bad, bad, ok, ok, ok, ok, ok, ok, ok, ok}, Healthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			p := testPool(keysN(2), Options{Window: 8, MinSamples: 5, FailureRatio: 0.5}, c)
			for _, o := range tc.outcomes {
				// A key may go unhealthy only on the last outcome of a case,
				// so it is still picked while the case runs.
				use(t, p, c, 0, o)
			}
			if got := stateOf(p, 0).State; got != tc.want {
				t.Fatalf("state %v, want %v (%+v)", got, tc.want, stateOf(p, 0))
			}
		})
	}
}

func TestUnhealthyKeyIsLastResortThenProbed(t *testing.T) {
	c := newClock()
	p := testPool(keysN(2), Options{Window: 10, MinSamples: 3, UnhealthyFor: 10 * time.Second}, c)
	for range 3 {
		use(t, p, c, 0, ErrorOutcome())
	}
	if s := stateOf(p, 0); s.State != Unhealthy || s.WindowFailures != 3 {
		t.Fatalf("after 3 failures: %+v", s)
	}
	// While unhealthy, the healthy key takes all traffic.
	for range 5 {
		l, err := p.Acquire(c.Now())
		if err != nil || l.Index() != 1 {
			t.Fatalf("want healthy key 1, got %d %v", l.Index(), err)
		}
		l.Release(Outcome{Kind: OK})
	}
	// With the healthy key excluded, the unhealthy one still serves.
	l, err := p.Acquire(c.Now(), 1)
	if err != nil || l.Index() != 0 {
		t.Fatalf("last resort: got %d %v", l.Index(), err)
	}
	l.Release(Outcome{Kind: Ignored})

	c.Advance(10 * time.Second)
	// Probe phase: at most one request at a time on key 0.
	probe, err := p.Acquire(c.Now(), 1)
	if err != nil || probe.Index() != 0 {
		t.Fatalf("probe: got %d %v", probe.Index(), err)
	}
	if _, err := p.Acquire(c.Now(), 1); !errors.Is(err, ErrNoKey) {
		t.Fatalf("second concurrent probe allowed: %v", err)
	}
	probe.Release(ErrorOutcome())
	if s := stateOf(p, 0); s.State != Unhealthy || !s.UnhealthyUntil.Equal(c.Now().Add(10*time.Second)) {
		t.Fatalf("failed probe: %+v", s)
	}
	c.Advance(10 * time.Second)
	use(t, p, c, 0, Outcome{Kind: OK})
	if s := stateOf(p, 0); s.State != Healthy || s.WindowFailures != 0 || s.WindowSuccesses != 1 {
		t.Fatalf("passed probe: %+v", s)
	}
	// A single failure after recovery does not bring it down again.
	use(t, p, c, 0, ErrorOutcome())
	if s := stateOf(p, 0); s.State != Healthy {
		t.Fatalf("one failure after recovery: %+v", s)
	}
}

func TestRateLimitCooldown(t *testing.T) {
	tests := []struct {
		name   string
		ras    []time.Duration // Retry-After of consecutive 429s (0 = absent)
		jitter float64
		rnd    func(int64) int64
		want   time.Duration // cooldown after the last one
	}{
		{"retry-after honoured", []time.Duration{7 * time.Second}, -1, nil, 7 * time.Second},
		{"retry-after capped", []time.Duration{time.Hour}, -1, nil, 20 * time.Second},
		{"absent: base", []time.Duration{0}, -1, nil, time.Second},
		{"absent: doubles per streak", []time.Duration{0, 0, 0}, -1, nil, 4 * time.Second},
		{"absent: streak capped", []time.Duration{0, 0, 0, 0, 0, 0, 0, 0}, -1, nil, 20 * time.Second},
		{"jitter adds up to a fraction", []time.Duration{10 * time.Second}, 0.1, maxRand, 11 * time.Second},
		{"jitter on capped value", []time.Duration{time.Hour}, 0.5, maxRand, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			p := testPool(keysN(2), Options{MaxCooldown: 20 * time.Second, Jitter: tc.jitter, Rand: tc.rnd}, c)
			for _, ra := range tc.ras {
				// Each 429 arrives after the previous cooldown ended.
				c.Advance(time.Hour)
				use(t, p, c, 0, StatusOutcome(429, ra))
			}
			s := stateOf(p, 0)
			if s.State != Cooldown || s.CooldownUntil.Sub(c.Now()) != tc.want {
				t.Fatalf("got %v until +%v, want cooldown +%v", s.State, s.CooldownUntil.Sub(c.Now()), tc.want)
			}
			if s.WindowFailures != 0 || s.WindowSuccesses != 0 {
				t.Fatalf("429 touched the health window: %+v", s)
			}
		})
	}
}

func TestCooldownSkipsKeyAndReportsSoonestEnd(t *testing.T) {
	c := newClock()
	p := testPool(keysN(3), Options{Jitter: -1}, c)
	use(t, p, c, 0, StatusOutcome(429, 30*time.Second))
	use(t, p, c, 1, StatusOutcome(429, 5*time.Second))
	for range 4 {
		l, err := p.Acquire(c.Now())
		if err != nil || l.Index() != 2 {
			t.Fatalf("want key 2, got %d %v", l.Index(), err)
		}
		l.Release(Outcome{Kind: OK})
	}
	use(t, p, c, 2, RejectedOutcome(401))
	_, err := p.Acquire(c.Now())
	var nk *NoKeyError
	if !errors.As(err, &nk) {
		t.Fatalf("want NoKeyError, got %v", err)
	}
	if nk.Cooling != 2 || nk.Disabled != 1 || !nk.Until.Equal(c.Now().Add(5*time.Second)) {
		t.Fatalf("no-key detail %+v", nk)
	}
	if ra := nk.RetryAfter(c.Now().Add(1500 * time.Millisecond)); ra != 4*time.Second {
		t.Fatalf("RetryAfter rounds up to whole seconds: %v", ra)
	}
	if ra := nk.RetryAfter(c.Now().Add(time.Minute)); ra != time.Second {
		t.Fatalf("RetryAfter floor: %v", ra)
	}
	if ra := (&NoKeyError{}).RetryAfter(c.Now()); ra != 0 {
		t.Fatalf("RetryAfter without cooldown: %v", ra)
	}
	// Excluding the cooling keys still reports when they come back.
	_, err = p.Acquire(c.Now(), 0, 1)
	if !errors.As(err, &nk) || nk.Excluded != 2 || nk.Disabled != 1 || !nk.Until.Equal(c.Now().Add(5*time.Second)) {
		t.Fatalf("no-key with exclusions %+v", nk)
	}
	c.Advance(5 * time.Second)
	l, err := p.Acquire(c.Now())
	if err != nil || l.Index() != 1 {
		t.Fatalf("after cooldown: %d %v", l.Index(), err)
	}
	l.Release(Outcome{Kind: OK})
}

func TestRejectedKeyRevives(t *testing.T) {
	tests := []struct {
		name   string
		revive func(p *Pool) bool
		want   State
	}{
		{"passing check", func(p *Pool) bool { return p.ReportHealthCheck("key#0", true) }, Healthy},
		{"failing check keeps it out", func(p *Pool) bool { return p.ReportHealthCheck("key#0", false) }, Disabled},
		{"reload", func(p *Pool) bool { p.ClearRejections(); return true }, Healthy},
		{"unknown label", func(p *Pool) bool { return !p.ReportHealthCheck("nope", true) }, Disabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			p := testPool(keysN(2), Options{}, c)
			use(t, p, c, 0, RejectedOutcome(401))
			if s := stateOf(p, 0); s.State != Disabled {
				t.Fatalf("after a rejection: %v", s.State)
			}
			if _, err := p.Acquire(c.Now(), 1); !errors.Is(err, ErrNoKey) {
				t.Fatalf("rejected key leased: %v", err)
			}
			if !tc.revive(p) {
				t.Fatal("revive reported no key")
			}
			if s := stateOf(p, 0); s.State != tc.want {
				t.Fatalf("after revive: %v, want %v", s.State, tc.want)
			}
		})
	}
}

// TestRejectionBacksOffThenProbes: a rejected key is out for RejectedFor,
// then one probe request may use it; a failed probe doubles the spell, a
// passing one brings the key back for good.
func TestRejectionBacksOffThenProbes(t *testing.T) {
	c := newClock()
	p := testPool(keysN(2), Options{RejectedFor: time.Minute, MaxRejectedFor: 3 * time.Minute}, c)
	use(t, p, c, 0, RejectedOutcome(401))
	for _, spell := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		c.Advance(spell - time.Second)
		if _, err := p.Acquire(c.Now(), 1); !errors.Is(err, ErrNoKey) {
			t.Fatalf("leased %v before its %v spell ended: %v", time.Second, spell, err)
		}
		c.Advance(time.Second)
		probe, err := p.Acquire(c.Now(), 1)
		if err != nil || probe.Index() != 0 {
			t.Fatalf("no probe after %v: %v", spell, err)
		}
		if _, err := p.Acquire(c.Now(), 1); !errors.Is(err, ErrNoKey) {
			t.Fatalf("a second request joined the probe: %v", err)
		}
		probe.Release(RejectedOutcome(401))
	}
	c.Advance(3 * time.Minute)
	use(t, p, c, 0, Outcome{Kind: OK})
	if s := stateOf(p, 0); s.State != Healthy || !s.DisabledUntil.IsZero() {
		t.Fatalf("after a passing probe: %+v", s)
	}
	use(t, p, c, 0, RejectedOutcome(401))
	if s := stateOf(p, 0); !s.DisabledUntil.Equal(c.Now().Add(time.Minute)) {
		t.Fatalf("the spell did not start over after a pass: %+v", s)
	}
}

func TestStatusAloneNeverDisables(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404} {
		if o := StatusOutcome(status, 0); o.Kind != OK {
			t.Fatalf("StatusOutcome(%d) = %v, want ok: only the body can say the credential is bad", status, o.Kind)
		}
	}
}

func TestFailingHealthCheckMarksUnhealthy(t *testing.T) {
	c := newClock()
	p := testPool(keysN(2), Options{UnhealthyFor: time.Minute}, c)
	if !p.ReportHealthCheck("key#1", false) {
		t.Fatal("label not found")
	}
	if s := stateOf(p, 1); s.State != Unhealthy {
		t.Fatalf("state %v", s.State)
	}
	if !p.Disable("key#1") || stateOf(p, 1).State != Disabled {
		t.Fatal("Disable did not disable")
	}
}

func TestSnapshotNeverShowsSecrets(t *testing.T) {
	c := newClock()
	ks := []Key{{Secret: "sk-live-AAAA1111"}, {Secret: "sk-live-BBBB2222", Label: Fingerprint("sk-live-BBBB2222")}}
	p := testPool(ks, Options{}, c)
	use(t, p, c, 0, StatusOutcome(429, 0))
	use(t, p, c, 1, RejectedOutcome(401))
	js, err := json.Marshal(p.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"state":"cooldown"`) || !strings.Contains(string(js), `"state":"disabled"`) ||
		strings.Count(string(js), "unhealthy_until") != 0 {
		t.Fatalf("json %s", js)
	}
	dump := fmt.Sprintf("%+v %#v %s", p.Snapshot(), p.Snapshot(), js)
	for _, k := range ks {
		if strings.Contains(dump, k.Secret) || strings.Contains(dump, k.Secret[3:]) {
			t.Fatalf("snapshot leaks a secret: %s", dump)
		}
	}
	fp := Fingerprint("sk-live-BBBB2222")
	if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+8 || fp == Fingerprint("sk-live-AAAA1111") {
		t.Fatalf("fingerprint %q", fp)
	}
	if got := p.Snapshot()[1].Label; got != fp {
		t.Fatalf("label %q", got)
	}
}
