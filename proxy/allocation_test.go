package proxy

import (
	"testing"

	"github.com/llmproxy/proxy/providers/jsonpatch"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// TestInspectRouteAllocs guards the allocations of the per-request path
// before any upstream I/O: parse the body with a pooled parser, route it,
// and rewrite the model when the route asks for it. The bounds are what was
// measured (go test -run TestInspectRouteAllocs -v ./proxy/); a change that
// adds an allocation here fails, and one that removes some should lower the
// bound. The target for a listed model with no rewrite is at most 2.
func TestInspectRouteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items)")
	}
	srv, err := New(baseConfig(
		mockProvider("alpha", 2, "gpt-a", "shared"),
		mockProvider("beta", 2, "gpt-b", "shared"),
		mockProvider("wild", 2, "*"),
	), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	long := `{"model":"%s","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Summarise the plot of a long novel in three sentences, please, with names."}],"temperature":0.2,"max_tokens":256,"stream":true,"stream_options":{"include_usage":true}}`
	tests := []struct {
		name     string
		model    string
		provider string // Model-Provider header
		body     string // %s is the model; default chatBody
		bound    float64
		rewrite  bool
	}{
		// Measured: 0 — the registry's map lookup with string(bytes) does not
		// allocate and the routed model is the configured string.
		{name: "listed", model: "gpt-a", bound: 0},
		{name: "listed/larger-body", model: "shared", body: long, bound: 0},
		// Measured: 1 — the model name is copied out of the parser's memory
		// (it must outlive the parser's return to the pool).
		{name: "wildcard", model: "some-unlisted-model", bound: 1},
		// Measured: 1 — the routed model is copied out of the parser's
		// memory; the header's provider name only serves a map lookup.
		{name: "header", model: "gpt-b", provider: "beta", bound: 1},
		// Measured: 4 — the provider and model strings, the quoted model and
		// the rewritten body (a copy the upstream request needs anyway).
		{name: "provider-prefix/rewrite", model: "beta:gpt-b", bound: 4, rewrite: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(chatBody(tc.model, false))
			if tc.body != "" {
				body = []byte(replaceOnce(tc.body, "%s", tc.model))
			}
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(fasthttp.MethodPost)
			ctx.Request.SetRequestURI("/v1/chat/completions")
			if tc.provider != "" {
				ctx.Request.Header.Set(HeaderModelProvider, tc.provider)
			}
			var rt routed
			run := func() {
				p := srv.parsers.Get()
				info, bad := inspectChat(p, body)
				if bad != nil {
					t.Fatalf("inspect: %s", bad.message)
				}
				var msg string
				rt, _, msg = srv.current().route(&ctx, info.model)
				srv.parsers.Put(p)
				if msg != "" {
					t.Fatalf("route: %s", msg)
				}
				if rt.rewrite {
					if _, err := jsonpatch.Replace(nil, body, "model", wire.AppendJSONString(nil, rt.model)); err != nil {
						t.Fatal(err)
					}
				}
			}
			run()
			if rt.rewrite != tc.rewrite {
				t.Fatalf("rewrite = %v, want %v", rt.rewrite, tc.rewrite)
			}
			got := testing.AllocsPerRun(1000, run)
			t.Logf("%s: %.0f allocs per inspect+route", tc.name, got)
			if got > tc.bound {
				t.Fatalf("%.0f allocs per inspect+route, bound %.0f", got, tc.bound)
			}
		})
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}
