package proxy

import (
	"strings"
	"testing"

	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// inProcessCacheServer is a server whose in-process mock provider
// "local" is cached (when cached is set) next to an uncached provider
// "plain".
func inProcessCacheServer(tb testing.TB, cached bool) *Server {
	cfg := baseConfig(mockProvider("local", 3, "local-gpt"), mockProvider("plain", 3, "plain-gpt"))
	if cached {
		cfg.Cache.Targets = []config.CacheTarget{{Provider: "local"}}
	}
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

func inProcessChat(srv *Server, ctx *fasthttp.RequestCtx, body []byte) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/v1/chat/completions")
	ctx.Request.SetBody(body)
	srv.chat(ctx)
}

// BenchmarkCacheHit measures a non-stream chat request answered from the
// in-memory cache through the handler (auth aside): inspect, route, the
// key (parse, normalise, SHA-256), the LRU lookup and the answer.
func BenchmarkCacheHit(b *testing.B) {
	srv := inProcessCacheServer(b, true)
	body := []byte(strings.Replace(greedyChat("a question worth caching", false), "mock-gpt", "local-gpt", 1))
	var ctx fasthttp.RequestCtx
	inProcessChat(srv, &ctx, body)
	b.ReportAllocs()
	for b.Loop() {
		inProcessChat(srv, &ctx, body)
		if string(ctx.Response.Header.Peek(HeaderCache)) != "hit" {
			b.Fatalf("%s = %q", HeaderCache, ctx.Response.Header.Peek(HeaderCache))
		}
	}
}

// TestCacheAllocs guards the allocations of the cache: none added to a
// request whose target is not cached (the bound of TestChatInProcessAllocs
// holds with the cache configured for another provider), and a bound on
// a hit.
func TestCacheAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	srv := inProcessCacheServer(t, true)
	var ctx fasthttp.RequestCtx
	tests := []struct {
		name   string
		body   []byte
		header string
		bound  float64
	}{
		// The same bound as TestChatInProcessAllocs: one map lookup more.
		{name: "uncached target", body: []byte(chatBody("plain-gpt", false)), header: "", bound: 6},
		// Measured: 1 (go test -run TestCacheAllocs -v ./proxy/): the key's
		// builder and the parser come from pools, the answer points at the
		// stored bytes.
		{name: "hit", body: []byte(strings.Replace(greedyChat("q", false), "mock-gpt", "local-gpt", 1)), header: "hit", bound: 1},
	}
	for _, tc := range tests {
		inProcessChat(srv, &ctx, tc.body)
		run := func() {
			inProcessChat(srv, &ctx, tc.body)
			if got := string(ctx.Response.Header.Peek(HeaderCache)); got != tc.header || ctx.Response.StatusCode() != 200 {
				t.Fatalf("%s: status %d, %s = %q, want %q", tc.name, ctx.Response.StatusCode(), HeaderCache, got, tc.header)
			}
		}
		got := testing.AllocsPerRun(200, run)
		t.Logf("%s: %.0f allocs per request", tc.name, got)
		if got > tc.bound {
			t.Errorf("%s: %.0f allocs per request, bound %.0f", tc.name, got, tc.bound)
		}
	}
}
