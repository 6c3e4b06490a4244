package tenants_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/llmproxy/proxy/proxy/tenants/sqlstore"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func newService(t *testing.T, o tenants.Options) *tenants.Service {
	t.Helper()
	if o.Store == nil {
		st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		o.Store = st
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 10 * time.Millisecond
	}
	s, err := tenants.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestKeyLifecycle(t *testing.T) {
	s := newService(t, tenants.Options{})
	ctx := context.Background()
	secret, v, err := s.Create(ctx, tenants.Key{Name: "team", Models: []string{"fast"}, Providers: []string{"openai"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, tenants.KeyPrefix) || len(secret) < 40 || !strings.HasPrefix(secret, v.Prefix) {
		t.Fatalf("secret %q prefix %q", secret, v.Prefix)
	}
	now := time.Now()
	e := s.Lookup([]byte(secret), now)
	if e == nil || e.Key.ID != v.ID || !e.AllowsModel([]byte("fast")) || e.AllowsModel([]byte("slow")) ||
		!e.AllowsProvider("openai") || e.AllowsProvider("anthropic") {
		t.Fatalf("lookup %+v", e)
	}
	if s.Lookup([]byte(secret+"x"), now) != nil || s.Lookup([]byte("sk-other"), now) != nil {
		t.Fatal("a wrong key was found")
	}
	if _, _, err := s.Create(ctx, tenants.Key{Name: "team"}); !errors.Is(err, tenants.ErrInvalid) {
		t.Fatalf("a duplicate name: %v", err)
	}
	if _, _, err := s.Create(ctx, tenants.Key{Name: "b", Budget: tenants.Budget{Kind: "eur", Amount: 1, Period: "day"}}); !errors.Is(err, tenants.ErrInvalid) {
		t.Fatalf("a bad budget kind: %v", err)
	}
	// Rotation without grace: the old secret stops at once.
	next, _, err := s.Rotate(ctx, v.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Lookup([]byte(secret), now) != nil || s.Lookup([]byte(next), now) == nil {
		t.Fatal("rotation did not replace the secret")
	}
	// With grace both work.
	third, _, err := s.Rotate(ctx, v.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if s.Lookup([]byte(next), now) == nil || s.Lookup([]byte(third), now) == nil {
		t.Fatal("grace did not keep the old secret")
	}
	// Counters survive edits.
	if _, err := s.Update(ctx, v.ID, func(k *tenants.Key) error { k.RPM = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	e = s.Lookup([]byte(third), now)
	if d := s.Admit(e, now); d.Verdict != tenants.Admitted {
		t.Fatalf("%+v", d)
	}
	if _, err := s.Update(ctx, v.ID, func(k *tenants.Key) error { k.Labels = map[string]string{"a": "b"}; return nil }); err != nil {
		t.Fatal(err)
	}
	if d := s.Admit(s.Lookup([]byte(third), now), now); d.Verdict != tenants.OverRate {
		t.Fatalf("an edit reset the minute: %+v", d)
	}
	revoked, err := s.Revoke(ctx, v.ID)
	if err != nil || revoked.RevokedAt == nil {
		t.Fatal(err)
	}
	if s.Lookup([]byte(third), now) != nil || s.Lookup([]byte(next), now) != nil {
		t.Fatal("a revoked key is still found")
	}
	if _, err := s.Revoke(ctx, "vk_nope"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("revoking a missing key: %v", err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("list %+v", list)
	}
	// Expiry.
	past := time.Now().Add(time.Second)
	exp, _, err := s.Create(ctx, tenants.Key{Name: "short", ExpiresAt: &past})
	if err != nil {
		t.Fatal(err)
	}
	if s.Lookup([]byte(exp), now) == nil || s.Lookup([]byte(exp), now.Add(2*time.Second)) != nil {
		t.Fatal("expiry not applied")
	}
}

func TestLimitsAndBudget(t *testing.T) {
	s := newService(t, tenants.Options{})
	ctx := context.Background()
	secret, v, err := s.Create(ctx, tenants.Key{Name: "b", RPM: 3, TPM: 100,
		Budget: tenants.Budget{Kind: tenants.BudgetUSD, Amount: 0.01, Period: tenants.PeriodDay}})
	if err != nil {
		t.Fatal(err)
	}
	// Get reports what was spent in the budget period of the real clock's
	// today: the requests happen today too.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	base := today.Add(10*time.Hour + 30*time.Second)
	e := s.Lookup([]byte(secret), base)
	for i := 0; i < 3; i++ {
		if d := s.Admit(e, base); d.Verdict != tenants.Admitted {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	d := s.Admit(e, base)
	if d.Verdict != tenants.OverRate || d.RetryAfter != 30*time.Second || d.What != "requests per minute" {
		t.Fatalf("the 4th request: %+v", d)
	}
	next := base.Add(time.Minute)
	if d := s.Admit(e, next); d.Verdict != tenants.Admitted {
		t.Fatalf("new minute: %+v", d)
	}
	s.Finish(e, &tenants.Record{Time: next, Input: 80, Output: 30, CostUSD: 0.004})
	if d := s.Admit(e, next); d.Verdict != tenants.OverRate || d.What != "tokens per minute" {
		t.Fatalf("tokens per minute: %+v", d)
	}
	later := next.Add(time.Minute)
	s.Finish(e, &tenants.Record{Time: later, Input: 1, CostUSD: 0.006})
	d = s.Admit(e, later)
	if d.Verdict != tenants.OverBudget || d.RetryAfter != today.Add(24*time.Hour).Sub(later) {
		t.Fatalf("budget: %+v", d)
	}
	if kv, _ := s.Get(ctx, v.ID); kv.Spent.CostUSD < 0.0099 {
		t.Fatalf("spent %+v", kv.Spent)
	}
	if _, err := s.Reset(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if d := s.Admit(e, later); d.Verdict != tenants.Admitted {
		t.Fatalf("after reset: %+v", d)
	}
	// The next day starts a new period.
	s.Finish(e, &tenants.Record{Time: later, CostUSD: 1})
	if d := s.Admit(e, later.Add(24*time.Hour)); d.Verdict != tenants.Admitted {
		t.Fatalf("new day: %+v", d)
	}
}

// Budget spend is stored: a second service on the same store (another
// instance, or this one restarted) sees it.
func TestBudgetSpendShared(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newService(t, tenants.Options{Store: st, SyncInterval: 20 * time.Millisecond})
	secret, _, err := a.Create(context.Background(), tenants.Key{Name: "k", Budget: tenants.Budget{Kind: tenants.BudgetTokens, Amount: 100, Period: tenants.PeriodMonth}})
	if err != nil {
		t.Fatal(err)
	}
	b := newService(t, tenants.Options{Store: st, SyncInterval: 20 * time.Millisecond})
	now := time.Now()
	ea := a.Lookup([]byte(secret), now)
	a.Admit(ea, now)
	a.Finish(ea, &tenants.Record{Time: now, Input: 100})
	deadline := time.Now().Add(5 * time.Second)
	for {
		eb := b.Lookup([]byte(secret), time.Now())
		if eb != nil && b.Admit(eb, time.Now()).Verdict == tenants.OverBudget {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other instance never saw the spend")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failing is a store whose usage writes fail.
type failing struct {
	tenants.Store
	mu    sync.Mutex
	fails bool
}

func (f *failing) InsertUsage(ctx context.Context, b []tenants.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails {
		return errors.New("disk full")
	}
	return f.Store.InsertUsage(ctx, b)
}

func TestUsageDroppedWhenStoreDown(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &failing{Store: st, fails: true}
	core, logs := observer.New(zap.WarnLevel)
	s := newService(t, tenants.Options{Store: f, Log: zap.New(core), Queue: 4, Batch: 2})
	for i := 0; i < 10; i++ {
		s.Finish(nil, &tenants.Record{Time: time.Now(), Model: "m"})
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Recorder().Dropped() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d of 10", s.Recorder().Dropped())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if logs.FilterMessage("usage records dropped").Len() == 0 {
		t.Fatal("drops not logged")
	}
	f.mu.Lock()
	f.fails = false
	f.mu.Unlock()
	s.Finish(nil, &tenants.Record{Time: time.Now(), Model: "ok"})
	for s.Recorder().Written() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the store came back but nothing was written")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The request path's key check and usage record allocate nothing.
func TestKeyCheckAllocs(t *testing.T) {
	s := newService(t, tenants.Options{Queue: 1 << 20})
	secret, _, err := s.Create(context.Background(), tenants.Key{Name: "a", RPM: 1 << 40, TPM: 1 << 40,
		Budget: tenants.Budget{Kind: tenants.BudgetUSD, Amount: 1e9, Period: tenants.PeriodMonth}})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(secret)
	rec := tenants.Record{Model: "gpt-4o-mini", Provider: "openai", Input: 10, Output: 5, CostUSD: 1e-6}
	n := testing.AllocsPerRun(1000, func() {
		now := time.Now()
		e := s.Lookup(key, now)
		if e == nil || s.Admit(e, now).Verdict != tenants.Admitted {
			t.Fatal("refused")
		}
		rec.Time = now
		s.Finish(e, &rec)
	})
	if n != 0 {
		t.Fatalf("%v allocations per key check and usage record", n)
	}
}

// discardUsage is a store whose usage writes cost nothing, so that the
// benchmark measures the request path and not the background writer.
type discardUsage struct{ tenants.Store }

func (discardUsage) InsertUsage(context.Context, []tenants.Record) error { return nil }

// BenchmarkKeyCheck: what a request with a virtual key pays on its own
// goroutine: the lookup (SHA-256 of the presented key, one map read), the
// limits and budget (one uncontended mutex), and at its end the spend and
// the usage record (a mutex and a channel send). "all" is one request's
// worth (the proxy looks the key up twice: at admission and auth).
func BenchmarkKeyCheck(b *testing.B) {
	st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s, err := tenants.New(context.Background(), tenants.Options{Store: discardUsage{st}, Queue: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	secret, _, _ := s.Create(context.Background(), tenants.Key{Name: "a", RPM: 1 << 40, TPM: 1 << 40,
		Budget: tenants.Budget{Kind: tenants.BudgetUSD, Amount: 1e9, Period: tenants.PeriodMonth}})
	key := []byte(secret)
	rec := tenants.Record{Model: "gpt-4o-mini", Provider: "openai", Input: 10, Output: 5}
	e := s.Lookup(key, time.Now())
	now := time.Now()
	for _, bc := range []struct {
		name string
		f    func()
	}{
		{"lookup", func() { s.Lookup(key, now) }},
		{"admit", func() { s.Admit(e, now) }},
		{"finish", func() { rec.Time = now; s.Finish(e, &rec) }},
		{"all", func() {
			now := time.Now()
			s.Lookup(key, now)
			e := s.Lookup(key, now)
			s.Admit(e, now)
			rec.Time = now
			s.Finish(e, &rec)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.f()
			}
		})
	}
}

// downShared is a shared store that fails every call, counting them.
type downShared struct{ calls atomic.Int64 }

func (d *downShared) Admit(context.Context, string, int64, int64, int64, string) (tenants.Decision, error) {
	d.calls.Add(1)
	return tenants.Decision{}, errors.New("connection refused")
}
func (d *downShared) Spend(context.Context, string, int64, int64, string) error {
	return errors.New("connection refused")
}
func (d *downShared) Spent(context.Context, string, string) (int64, error) {
	return 0, errors.New("connection refused")
}
func (d *downShared) Reset(context.Context, string, string) error {
	return errors.New("connection refused")
}

// A shared store that failed is left alone for a second: the requests in
// between are decided at once by the fail policy (counted), not each after
// its own timeout; then it is asked again.
func TestSharedDownAskedOncePerSecond(t *testing.T) {
	sh := &downShared{}
	s := newService(t, tenants.Options{Shared: sh, LimitsFailOpen: true})
	_, kv, err := s.Create(context.Background(), tenants.Key{Name: "a", RPM: 100})
	if err != nil {
		t.Fatal(err)
	}
	e := s.Table().ByID(kv.ID)
	now := time.Now()
	for i := range 50 {
		if d := s.Admit(e, now.Add(time.Duration(i)*10*time.Millisecond)); d.Verdict != tenants.Admitted {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	if n := sh.calls.Load(); n != 1 {
		t.Fatalf("the down store was asked %d times within half a second", n)
	}
	if s.SharedFailures() != 50 {
		t.Fatalf("%d requests counted as decided without the shared store, want 50", s.SharedFailures())
	}
	s.Admit(e, now.Add(1100*time.Millisecond))
	if n := sh.calls.Load(); n != 2 {
		t.Fatalf("not asked again after a second: %d calls", n)
	}
}
