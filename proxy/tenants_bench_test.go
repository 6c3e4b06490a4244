package proxy

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/tenants"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// keyBench is one whole non-stream request through the handler (admission
// on the headers, auth, limits, inspect, route, the in-process mock
// provider, the answer, the access line and the usage record), with the
// client key of one of three set-ups.
type keyBench struct {
	srv  *Server
	auth string // the Authorization header
}

// newKeyBench: "plain" is a config key with no store (today's hot path),
// "config+store" a config key with usage recorded, "virtual" a virtual
// key with a rate limit, a token limit and a money budget, recorded.
func newKeyBench(tb testing.TB, mode string) keyBench {
	tb.Helper()
	cfg := baseConfig(config.Provider{Name: "mock", Type: config.TypeMock, Models: []string{"bench"}, Mock: config.Mock{Tokens: 3}})
	cfg.Log.Level = "warn"
	if mode != "plain" {
		cfg.Store.Enabled, cfg.Store.DSN = true, filepath.Join(tb.TempDir(), "bench.db")
		// Nothing is written or reloaded while allocations are counted:
		// the background writer's work is not the request's.
		cfg.Store.FlushInterval, cfg.Store.SyncInterval = time.Hour, time.Hour
		cfg.Store.UsageQueue, cfg.Store.UsageBatch = 1<<20, 1<<20
	}
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	key := testKey
	if mode == "virtual" {
		key, _, err = srv.Tenants().Create(context.Background(), tenants.Key{Name: "bench", Models: []string{"bench"},
			Providers: []string{"mock"}, RPM: 1 << 40, TPM: 1 << 40,
			Budget: tenants.Budget{Kind: tenants.BudgetUSD, Amount: 1e9, Period: tenants.PeriodMonth}})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return keyBench{srv: srv, auth: "Bearer " + key}
}

const keyBenchBody = `{"model":"bench","messages":[{"role":"user","content":"Hello"}]}`

func (kb keyBench) run(tb testing.TB, ctx *fasthttp.RequestCtx) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/v1/chat/completions")
	ctx.Request.Header.SetHost("localhost")
	ctx.Request.Header.Set(fasthttp.HeaderAuthorization, kb.auth)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyString(keyBenchBody)
	if rc := kb.srv.headerReceived(&ctx.Request.Header); rc.MaxRequestBodySize == refusedBodyLimit {
		tb.Fatal("admission refused the key")
	}
	kb.srv.srv.Handler(ctx)
	if ctx.Response.StatusCode() != 200 {
		tb.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// BenchmarkKeyChecksPerRequest: a whole request with each kind of key; the
// difference between "virtual" and "plain" is what virtual keys (lookup
// twice: admission and auth; limits; budget; the usage record) add.
func BenchmarkKeyChecksPerRequest(b *testing.B) {
	for _, mode := range []string{"plain", "config+store", "virtual"} {
		b.Run(mode, func(b *testing.B) {
			kb := newKeyBench(b, mode)
			var ctx fasthttp.RequestCtx
			ctx.Init(&fasthttp.Request{}, nil, nil)
			b.ReportAllocs()
			for b.Loop() {
				kb.run(b, &ctx)
			}
		})
	}
}

// TestKeyChecksAddNoAllocs: a request with a virtual key (checked at
// admission and auth, its limits and budget counted, its usage queued)
// allocates no more than the same request with a config key and no store.
func TestKeyChecksAddNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items)")
	}
	allocs := map[string]float64{}
	for _, mode := range []string{"plain", "config+store", "virtual"} {
		kb := newKeyBench(t, mode)
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, nil, nil)
		kb.run(t, &ctx) // warm the pools
		allocs[mode] = testing.AllocsPerRun(2000, func() { kb.run(t, &ctx) })
	}
	t.Logf("allocations per request: %v", allocs)
	if allocs["virtual"] > allocs["plain"] || allocs["config+store"] > allocs["plain"] {
		t.Fatalf("key checks and usage records add allocations: %v", allocs)
	}
}
