package redislimit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/llmproxy/proxy/proxy/tenants/sqlstore"
	"github.com/llmproxy/proxy/proxy/tenants/testservers"
)

func open(t *testing.T, addr string) *Counter {
	t.Helper()
	c, err := Open(context.Background(), "redis://"+addr+"/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Two counters on one Redis (two instances) share one per-key limit.
func TestSharedLimitAcrossInstances(t *testing.T) {
	addr := testservers.Redis(t)
	a, b := open(t, addr), open(t, addr)
	ctx := context.Background()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i, c := range []*Counter{a, b, a, b} {
		wg.Add(1)
		go func(i int, c *Counter) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				d, err := c.Admit(ctx, "vk_rpm", 7, 0, 0, "")
				if err != nil {
					t.Error(err)
					return
				}
				if d.Verdict == tenants.Admitted {
					admitted.Add(1)
				} else if d.Verdict != tenants.OverRate || d.RetryAfter <= 0 || d.RetryAfter > time.Minute || d.What != "requests per minute" {
					t.Errorf("refusal %+v", d)
				}
			}
		}(i, c)
	}
	wg.Wait()
	// A minute boundary during the test could let a second window's worth in.
	if n := admitted.Load(); n != 7 && n != 14 {
		t.Fatalf("%d requests admitted across two instances with rpm 7", n)
	}
}

func TestSharedTokensAndBudget(t *testing.T) {
	addr := testservers.Redis(t)
	a, b := open(t, addr), open(t, addr)
	ctx := context.Background()
	if d, _ := a.Admit(ctx, "vk_t", 0, 100, 0, ""); d.Verdict != tenants.Admitted {
		t.Fatalf("first request refused: %+v", d)
	}
	if err := b.Spend(ctx, "vk_t", 100, 0, ""); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Admit(ctx, "vk_t", 0, 100, 0, ""); d.Verdict != tenants.OverRate || d.What != "tokens per minute" {
		t.Fatalf("tokens per minute not shared: %+v", d)
	}
	for _, period := range []string{tenants.PeriodDay, tenants.PeriodMonth} {
		id := "vk_b_" + period
		if err := a.Spend(ctx, id, 10, 250, period); err != nil {
			t.Fatal(err)
		}
		if n, _ := b.Spent(ctx, id, period); n != 250 {
			t.Fatalf("%s: spent %d", period, n)
		}
		d, err := b.Admit(ctx, id, 0, 0, 250, period)
		if err != nil || d.Verdict != tenants.OverBudget {
			t.Fatalf("%s: over budget admitted: %+v %v", period, d, err)
		}
		// Redis computes the period's end by its own calendar; it agrees with ours.
		now := time.Now()
		want := tenants.PeriodEnd(period, now).Sub(now)
		if diff := d.RetryAfter - want; diff < -3*time.Second || diff > 3*time.Second {
			t.Fatalf("%s: Retry-After %v, want about %v", period, d.RetryAfter, want)
		}
		if err := a.Reset(ctx, id, period); err != nil {
			t.Fatal(err)
		}
		if d, _ := b.Admit(ctx, id, 0, 0, 250, period); d.Verdict != tenants.Admitted {
			t.Fatalf("%s: refused after reset: %+v", period, d)
		}
	}
}

// With the Redis server gone, each limit fails as configured: closed
// refuses with a Retry-After (the proxy answers 503), open admits within
// this instance's own counters. Budgets fail closed by default (the
// config's default, checked in proxy/config). Failures are counted.
func TestSharedStoreDown(t *testing.T) {
	addr, stop := testservers.StartRedis(t)
	st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	type keys struct{ rate, budget *tenants.Entry }
	cases := []struct {
		name                     string
		limitsOpen, budgetsOpen  bool
		rateAdmitted, budgetOpen bool
	}{
		{"limits open, budgets closed (the defaults)", true, false, true, false},
		{"both closed", false, false, false, false},
		{"both open", true, true, true, true},
		{"limits closed, budgets open", false, true, false, true},
	}
	svcs := make([]*tenants.Service, len(cases))
	ks := make([]keys, len(cases))
	for i, tc := range cases {
		svc, err := tenants.New(ctx, tenants.Options{Store: st, Shared: open(t, addr), LimitsFailOpen: tc.limitsOpen,
			BudgetsFailOpen: tc.budgetsOpen, FlushInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		_, rate, err := svc.Create(ctx, tenants.Key{Name: fmt.Sprintf("rate-%d", i), RPM: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, budget, err := svc.Create(ctx, tenants.Key{Name: fmt.Sprintf("budget-%d", i),
			Budget: tenants.Budget{Kind: tenants.BudgetTokens, Amount: 1000, Period: tenants.PeriodDay}})
		if err != nil {
			t.Fatal(err)
		}
		svcs[i], ks[i] = svc, keys{svc.Table().ByID(rate.ID), svc.Table().ByID(budget.ID)}
		if d := svc.Admit(ks[i].rate, time.Now()); d.Verdict != tenants.Admitted {
			t.Fatalf("%s: refused with Redis up: %+v", tc.name, d)
		}
	}
	stop() // the shared store goes away
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, k := svcs[i], ks[i]
			before := svc.SharedFailures()
			d := svc.Admit(k.rate, time.Now())
			if got := d.Verdict == tenants.Admitted; got != tc.rateAdmitted {
				t.Fatalf("rate limit: %+v", d)
			}
			if !tc.rateAdmitted && (d.Verdict != tenants.Unavailable || d.RetryAfter <= 0 || d.What != "rate limit") {
				t.Fatalf("rate limit fails closed with %+v", d)
			}
			if tc.rateAdmitted {
				// Open is not unlimited: this instance's own count holds.
				if d := svc.Admit(k.rate, time.Now()); d.Verdict != tenants.Admitted {
					t.Fatalf("second request: %+v", d)
				}
				if d := svc.Admit(k.rate, time.Now()); d.Verdict != tenants.OverRate {
					t.Fatalf("third request of rpm 2 with Redis down: %+v", d)
				}
			}
			d = svc.Admit(k.budget, time.Now())
			if got := d.Verdict == tenants.Admitted; got != tc.budgetOpen {
				t.Fatalf("budget: %+v", d)
			}
			if !tc.budgetOpen && (d.Verdict != tenants.Unavailable || d.RetryAfter <= 0 || d.What != "budget") {
				t.Fatalf("budget fails closed with %+v", d)
			}
			if svc.SharedFailures() <= before {
				t.Fatal("failures not counted")
			}
		})
	}
}

// Two instances whose clocks disagree by an hour (their "now" is all that
// differs) still share one window: the window is Redis's clock.
func TestSharedLimitIgnoresInstanceClocks(t *testing.T) {
	addr := testservers.Redis(t)
	ctx := context.Background()
	var svcs [2]*tenants.Service
	st, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range svcs {
		s, err := tenants.New(ctx, tenants.Options{Store: st, Shared: open(t, addr), FlushInterval: 20 * time.Millisecond,
			SyncInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		svcs[i] = s
	}
	for attempt := 0; attempt < 3; attempt++ {
		if left := 60 - time.Now().Unix()%60; left < 5 {
			time.Sleep(time.Duration(left+1) * time.Second) // not across Redis's minute boundary
		}
		_, kv, err := svcs[0].Create(ctx, tenants.Key{Name: fmt.Sprintf("skew-%d", attempt), RPM: 4})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); svcs[1].Table().ByID(kv.ID) == nil; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the second instance never loaded the key")
			}
		}
		minute := time.Now().Unix() / 60
		admitted := 0
		for i := 0; i < 10; i++ {
			skew := time.Duration(i%2*2-1) * time.Hour // -1h, +1h, ...
			s := svcs[i%2]
			if d := s.Admit(s.Table().ByID(kv.ID), time.Now().Add(skew)); d.Verdict == tenants.Admitted {
				admitted++
			}
		}
		if time.Now().Unix()/60 != minute {
			continue
		}
		if admitted != 4 {
			t.Fatalf("%d of 10 admitted with rpm 4 by instances an hour apart", admitted)
		}
		return
	}
	t.Fatal("could not run within one minute")
}
