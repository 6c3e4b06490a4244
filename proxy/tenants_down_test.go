package proxy

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/llmproxy/proxy/proxy/tenants/testservers"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// startObservedProxy is startProxy with the proxy's log kept for the test.
func startObservedProxy(t *testing.T, cfg *config.Config) (*Server, string, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	srv, err := New(cfg, zap.New(core))
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv, "http://" + ln.Addr().String(), logs
}

// metricValue reads one unlabelled sample from the proxy's /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	_, b := do(t, httpClient(t), "GET", base+"/metrics", "", nil)
	m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s not in /metrics", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestTenantUsageStoreDown: the PostgreSQL server holding keys and usage
// stops while the proxy runs. Virtual keys keep working from memory,
// every request is served, the usage records that cannot be written are
// dropped, counted in proxy_usage_records_dropped_total and logged.
func TestTenantUsageStoreDown(t *testing.T) {
	dsn, stop := testservers.StartPostgres(t)
	cfg := tenantConfig("")
	cfg.Store.Driver, cfg.Store.DSN = "postgres", dsn
	srv, base, logs := startObservedProxy(t, cfg)
	secret, _, err := srv.Tenants().Create(context.Background(), tenants.Key{Name: "team", RPM: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c := httpClient(t)
	if resp, body := do(t, c, "POST", base+"/v1/chat/completions", chatBody("mock-gpt", false), bearer(secret)); resp.StatusCode != 200 {
		t.Fatalf("store up: %d %s", resp.StatusCode, body)
	}
	waitFor(t, "the first record written", func() bool { return metricValue(t, base, "proxy_usage_records_written_total") == 1 })
	stop()
	for i := range 5 {
		if resp, body := do(t, c, "POST", base+"/v1/chat/completions", chatBody("mock-gpt", i%2 == 1), bearer(secret)); resp.StatusCode != 200 {
			t.Fatalf("store down, request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	waitFor(t, "5 records counted as dropped", func() bool { return metricValue(t, base, "proxy_usage_records_dropped_total") == 5 })
	if logs.FilterMessage("usage records dropped").Len() == 0 {
		t.Fatal("the drops were not logged")
	}
	if metricValue(t, base, "proxy_usage_records_written_total") != 1 {
		t.Fatal("written count moved while the store was down")
	}
}

// TestTenantUsageStoreFull: an SQLite store that cannot grow (its
// max_page_count reached, as on a full disk) fails every write; requests
// are served and the lost records counted.
func TestTenantUsageStoreFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	cfg := tenantConfig("file:" + path + "?_pragma=busy_timeout(5000)&_pragma=max_page_count(10)")
	cfg.Store.UsageBatch = 50
	srv, base, logs := startObservedProxy(t, cfg)
	secret, _, err := srv.Tenants().Create(context.Background(), tenants.Key{Name: "team"})
	if err != nil {
		t.Fatal(err)
	}
	c := httpClient(t)
	// The migrated schema takes the 10 pages: the first records that need
	// a new page cannot be written.
	for i := range 100 {
		if resp, b := do(t, c, "POST", base+"/v1/chat/completions", chatBody("fast", i%2 == 0), bearer(secret)); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	waitFor(t, "records dropped", func() bool { return metricValue(t, base, "proxy_usage_records_dropped_total") > 0 })
	if e := logs.FilterMessage("usage records dropped").All(); len(e) == 0 || !strings.Contains(e[0].ContextMap()["error"].(string), "full") {
		t.Fatalf("the drop was not logged with its reason: %v", e)
	}
}

// TestTenantSharedStoreDown: the Redis that counts limits across
// instances stops. A key with a budget is refused (budgets fail closed by
// default: 503 in the client's protocol, Retry-After); a key with only a
// rate limit is served (limits fail open by default, within this
// instance's counts); with store.limits_fail: closed it is refused too.
func TestTenantSharedStoreDown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		limitsFail string
		rateStatus int
	}{
		{"defaults", "", 200},
		{"limits closed", "closed", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, stop := testservers.StartRedis(t)
			cfg := tenantConfig(filepath.Join(t.TempDir(), "p.db"))
			cfg.Store.Redis = "redis://" + addr + "/0"
			if tc.limitsFail != "" {
				cfg.Store.LimitsFail = tc.limitsFail
			}
			srv, base, _ := startObservedProxy(t, cfg)
			ctx := context.Background()
			rate, _, err := srv.Tenants().Create(ctx, tenants.Key{Name: "rate", RPM: 100})
			if err != nil {
				t.Fatal(err)
			}
			budget, _, err := srv.Tenants().Create(ctx, tenants.Key{Name: "budget",
				Budget: tenants.Budget{Kind: tenants.BudgetTokens, Amount: 1e6, Period: tenants.PeriodMonth}})
			if err != nil {
				t.Fatal(err)
			}
			c := httpClient(t)
			for _, k := range []string{rate, budget} {
				if resp, b := do(t, c, "POST", base+"/v1/chat/completions", chatBody("mock-gpt", false), bearer(k)); resp.StatusCode != 200 {
					t.Fatalf("Redis up: %d %s", resp.StatusCode, b)
				}
			}
			stop()
			resp, b := do(t, c, "POST", base+"/v1/chat/completions", chatBody("mock-gpt", false), bearer(rate))
			if resp.StatusCode != tc.rateStatus {
				t.Fatalf("rate-limited key, Redis down: %d %s", resp.StatusCode, b)
			}
			hdr := map[string]string{"x-api-key": budget, "anthropic-version": "2023-06-01"}
			resp, b = do(t, c, "POST", base+"/v1/messages", `{"model":"mock-gpt","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, hdr)
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"type":"error"`) ||
				!strings.Contains(string(b), "budget") {
				t.Fatalf("budget key, Redis down: %d %s (want 503 in Anthropic's shape)", resp.StatusCode, b)
			}
			if metricValue(t, base, "proxy_shared_limit_failures_total") < 2 {
				t.Fatal("the failures were not counted")
			}
		})
	}
}
