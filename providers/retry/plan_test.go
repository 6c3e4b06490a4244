package retry

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// planStep expects Next to yield an attempt on target `want` after `wait`,
// then reports `report` to the plan.
type planStep struct {
	want    int
	wait    time.Duration
	advance time.Duration // time that passes during the attempt
	report  func(pl *Plan) bool
}

func fail(status int) func(*Plan) bool {
	return func(pl *Plan) bool { return pl.Fail(Failure{Status: status, Delivery: NothingSent}) }
}

func rejected(status int) func(*Plan) bool {
	return func(pl *Plan) bool { return pl.Fail(Failure{Status: status, Credential: true, Delivery: NothingSent}) }
}

func failErr(err error) func(*Plan) bool {
	return func(pl *Plan) bool { return pl.Fail(Failure{Err: err, Delivery: NothingSent}) }
}

func skip(ra time.Duration) func(*Plan) bool {
	return func(pl *Plan) bool { pl.Skip(ra); return true }
}

func TestPlanWalk(t *testing.T) {
	chain := []Target{{"openai", "gpt"}, {"anthropic", "claude"}, {"gemini", "flash"}}
	base := Policy{MaxAttempts: 4, PerTarget: 2, BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxTotal: 10 * time.Second}
	ms := time.Millisecond
	tests := []struct {
		name         string
		policy       Policy
		steps        []planStep
		wantAttempts int
		wantRA       time.Duration
	}{
		{"success first try", base, []planStep{
			{want: 0, report: func(pl *Plan) bool { pl.Commit(); return false }},
		}, 1, 0},
		{"5xx backs off on same target then falls back without wait", base, []planStep{
			{want: 0, report: fail(503)},
			{want: 0, wait: 100 * ms, report: fail(502)},
			{want: 1, report: func(pl *Plan) bool { pl.Commit(); return false }},
		}, 3, 0},
		{"429 switches key at once", base, []planStep{
			{want: 0, report: func(pl *Plan) bool {
				return pl.Fail(Failure{Status: 429, RetryAfter: 7 * time.Second, Delivery: NothingSent})
			}},
			{want: 0, report: rejected(401)},
			{want: 0, report: fail(500)},
			{want: 0, wait: 100 * ms, report: fail(500)},
			{want: 1, report: fail(500)},
			{want: 1, wait: 100 * ms, report: fail(500)},
		}, 6, 7 * time.Second},
		{"a 401 that does not reject the credential ends the plan", base, []planStep{
			{want: 0, report: fail(401)},
		}, 1, 0},
		{"fatal status stops", base, []planStep{
			{want: 0, report: fail(400)},
		}, 1, 0},
		{"bytes sent stops", base, []planStep{
			{want: 0, report: func(pl *Plan) bool { return pl.Fail(Failure{Err: io.EOF, Delivery: BytesSent}) }},
		}, 1, 0},
		{"unknown delivery is treated as sent", base, []planStep{
			{want: 0, report: func(pl *Plan) bool { return pl.Fail(Failure{Status: 503}) }},
		}, 1, 0},
		{"fail after commit stops", base, []planStep{
			{want: 0, report: func(pl *Plan) bool { pl.Commit(); return pl.Fail(Failure{Status: 503, Delivery: NothingSent}) }},
		}, 1, 0},
		{"skips cost no attempt and keep the soonest retry-after", base, []planStep{
			{want: 0, report: skip(30 * time.Second)},
			{want: 1, report: skip(5 * time.Second)},
			{want: 2, report: failErr(io.ErrUnexpectedEOF)},
			{want: 2, wait: 100 * ms, report: failErr(io.ErrUnexpectedEOF)},
		}, 2, 5 * time.Second},
		{"attempts bound", Policy{MaxAttempts: 2, PerTarget: 5}, []planStep{
			{want: 0, report: fail(500)},
			{want: 0, wait: 100 * ms, report: fail(500)},
		}, 2, 0},
		{"backoff doubles per target", Policy{MaxAttempts: 5, PerTarget: 5, BaseBackoff: 100 * ms, MaxBackoff: 250 * ms}, []planStep{
			{want: 0, report: fail(500)},
			{want: 0, wait: 100 * ms, report: fail(500)},
			{want: 0, wait: 200 * ms, report: fail(500)},
			{want: 0, wait: 250 * ms, report: fail(500)},
			{want: 0, wait: 250 * ms, report: fail(500)},
		}, 5, 0},
		{"decorrelated jitter", Policy{MaxAttempts: 4, PerTarget: 4, BaseBackoff: 100 * ms, MaxBackoff: time.Second, Decorrelated: true}, []planStep{
			{want: 0, report: fail(500)},
			{want: 0, wait: 100 * ms, report: fail(500)},
			{want: 0, wait: 300 * ms, report: fail(500)},
			{want: 0, wait: 900 * ms, report: fail(500)},
		}, 4, 0},
		{"total time bound", Policy{MaxAttempts: 9, PerTarget: 9, MaxTotal: time.Second, BaseBackoff: 100 * ms}, []planStep{
			{want: 0, advance: 850 * ms, report: fail(504)},
			{want: 0, wait: 100 * ms, advance: 50 * ms, report: fail(504)},
			// 900 ms elapsed; a 200 ms backoff would end past the budget.
		}, 2, 0},
		{"out of targets", Policy{MaxAttempts: 9, PerTarget: 1}, []planStep{
			{want: 0, report: fail(500)},
			{want: 1, report: fail(500)},
			{want: 2, report: fail(500)},
		}, 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			pl := tc.policy.NewPlan(now, chain, fixedRand{top: true})
			for i, st := range tc.steps {
				a, ok := pl.Next(now)
				if !ok {
					t.Fatalf("step %d: plan ended early", i)
				}
				if a.TargetIndex != st.want || a.Target != chain[st.want] || a.Wait != st.wait {
					t.Fatalf("step %d: got target %d wait %v, want %d wait %v", i, a.TargetIndex, a.Wait, st.want, st.wait)
				}
				if !a.Deadline.Equal(time.Unix(1_700_000_000, 0).Add(tc.policy.withDefaults().MaxTotal)) {
					t.Fatalf("step %d: deadline %v", i, a.Deadline)
				}
				now = now.Add(a.Wait + st.advance)
				cont := st.report(&pl)
				if last := i == len(tc.steps)-1; !last && !cont {
					t.Fatalf("step %d: plan said stop", i)
				}
			}
			if a, ok := pl.Next(now); ok {
				t.Fatalf("plan continued with %+v", a)
			}
			if !pl.Done() {
				t.Fatal("plan not done")
			}
			if pl.Attempts() != tc.wantAttempts || pl.RetryAfter() != tc.wantRA {
				t.Fatalf("attempts %d retry-after %v, want %d %v", pl.Attempts(), pl.RetryAfter(), tc.wantAttempts, tc.wantRA)
			}
		})
	}
}

func TestPlanExcludedKeys(t *testing.T) {
	chain := []Target{{"a", "m"}, {"b", "m"}}
	now := time.Now()
	pl := Policy{MaxAttempts: 9, PerTarget: 9, BaseBackoff: time.Millisecond}.NewPlan(now, chain, fixedRand{})
	steps := []struct {
		key          int
		failure      Failure
		wantExcluded []int
		wantRefused  []int
	}{
		{2, Failure{Status: 429, Delivery: NothingSent}, []int{2}, []int{2}},
		{0, Failure{Err: errReset, Delivery: NothingSent}, []int{2, 0}, []int{2}},
		{1, Failure{Status: 403, Credential: true, Delivery: NothingSent}, []int{2, 0, 1}, []int{2, 1}},
	}
	for i, st := range steps {
		if _, ok := pl.Next(now); !ok {
			t.Fatalf("step %d: plan over", i)
		}
		pl.UseKey(st.key)
		if !pl.Fail(st.failure) {
			t.Fatalf("step %d: no retry", i)
		}
		if !equalInts(pl.Excluded(), st.wantExcluded) || !equalInts(pl.Refused(), st.wantRefused) {
			t.Fatalf("step %d: excluded %v refused %v, want %v %v", i, pl.Excluded(), pl.Refused(), st.wantExcluded, st.wantRefused)
		}
	}
	pl.Next(now)
	pl.Skip(0) // no key left on target a
	if _, ok := pl.Next(now); !ok || len(pl.Excluded()) != 0 || len(pl.Refused()) != 0 {
		t.Fatalf("fallback target inherits exclusions %v %v", pl.Excluded(), pl.Refused())
	}
	// An attempt that never named its key excludes nothing.
	pl.Fail(Failure{Status: 500, Delivery: NothingSent})
	if len(pl.Excluded()) != 0 {
		t.Fatalf("excluded %v", pl.Excluded())
	}
	long := Policy{MaxAttempts: 40, PerTarget: 40, BaseBackoff: time.Nanosecond}.NewPlan(now, chain, fixedRand{})
	for i := range 40 {
		long.Next(now)
		long.UseKey(i) // more keys than remembered: must not panic
		long.Fail(Failure{Status: 429, Delivery: NothingSent})
	}
	if len(long.Excluded()) != maxTried || len(long.Refused()) != maxTried {
		t.Fatalf("excluded %d refused %d", len(long.Excluded()), len(long.Refused()))
	}
}

var errReset = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPlanMisuse(t *testing.T) {
	chain := []Target{{"a", "m"}}
	pl := Policy{}.NewPlan(time.Now(), chain, nil)
	if pl.Fail(Failure{Status: 500, Delivery: NothingSent}) {
		t.Fatal("Fail without an attempt allowed a retry")
	}
	if _, ok := pl.Next(time.Now()); ok {
		t.Fatal("plan continued after misuse")
	}
	empty := Policy{}.NewPlan(time.Now(), nil, nil)
	if _, ok := empty.Next(time.Now()); ok {
		t.Fatal("empty chain yielded an attempt")
	}
}

func TestPlanDoesNotAllocate(t *testing.T) {
	chain := []Target{{"a", "m"}, {"b", "m"}}
	pol := Policy{MaxAttempts: 3}
	now := time.Now()
	sink := 0
	allocs := testing.AllocsPerRun(100, func() {
		pl := pol.NewPlan(now, chain, SharedRand{})
		for a, ok := pl.Next(now); ok; a, ok = pl.Next(now) {
			pl.UseKey(a.Number)
			sink += len(pl.Excluded())
			if !pl.Fail(Failure{Status: 503, Delivery: NothingSent}) {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("plan allocates %v times", allocs)
	}
	_ = sink
}

// TestKeyFaultsAreFree: with the default budget (3 attempts, 2 per target),
// keys that are rate limited or rejected do not use it up, so one good key
// among bad ones is still reached; the free attempts are bounded.
func TestKeyFaultsAreFree(t *testing.T) {
	now := time.Now()
	pl := Policy{MaxAttempts: 3, PerTarget: 2, BaseBackoff: time.Millisecond}.NewPlan(now, []Target{{"a", "m"}}, fixedRand{})
	failures := []Failure{
		{Status: 429, Delivery: NothingSent},
		{Status: 401, Credential: true, Delivery: NothingSent},
		{Status: 500, Delivery: NothingSent},
		{Status: 429, Delivery: NothingSent},
		{Status: 401, Credential: true, Delivery: NothingSent},
	}
	for i, f := range failures {
		a, ok := pl.Next(now)
		if !ok {
			t.Fatalf("attempt %d refused", i)
		}
		if a.Number != i+1 {
			t.Fatalf("attempt %d numbered %d", i, a.Number)
		}
		pl.UseKey(i)
		if !pl.Fail(f) {
			t.Fatalf("no retry after %+v", f)
		}
	}
	if _, ok := pl.Next(now); !ok {
		t.Fatal("the good key was never reached")
	}
	pl.Commit()

	bounded := Policy{MaxAttempts: 1, PerTarget: 1}.NewPlan(now, []Target{{"a", "m"}}, fixedRand{})
	n := 0
	for _, ok := bounded.Next(now); ok; _, ok = bounded.Next(now) {
		n++
		bounded.UseKey(n)
		if !bounded.Fail(Failure{Status: 429, Delivery: NothingSent}) {
			break
		}
	}
	if n != maxTried+1 {
		t.Fatalf("%d attempts for endless 429s, want %d", n, maxTried+1)
	}
}
