package proxy

import (
	"io"
	"net"
	"testing"

	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// staticUpstream answers every request with the same bytes, allocating
// nothing, so that benchmarks measure the proxy and not its upstream.
func staticUpstream(tb testing.TB, contentType, body string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	raw := []byte(body)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType(contentType)
		ctx.Response.SetBodyRaw(raw)
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/v1"
}

const (
	benchAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`
	benchEvent  = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}` + "\n\n"
)

// benchServer builds a proxy in front of upstream and returns its handler.
func benchServer(tb testing.TB, upstream string) fasthttp.RequestHandler {
	tb.Helper()
	p := openaiProvider("bench", upstream, "bench")
	cfg := baseConfig(p)
	cfg.Log.Level = "warn"
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	return srv.srv.Handler
}

func benchRequest(ctx *fasthttp.RequestCtx, body string) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/v1/chat/completions")
	ctx.Request.Header.SetHost("localhost") // a loopback proxy refuses other names
	ctx.Request.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+testKey)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyString(body)
}

// BenchmarkChatPassThrough measures one non-stream chat completion through
// the proxy's handler: inspect, route, upstream round trip over loopback,
// answer. Allocations are the handler's own (the upstream allocates none).
func BenchmarkChatPassThrough(b *testing.B) { benchmarkRun(b, plainRun) }

// BenchmarkChatStreamPassThrough measures one streamed completion of 20
// events through the handler and the relay.
func BenchmarkChatStreamPassThrough(b *testing.B) { benchmarkRun(b, streamRun) }

// BenchmarkMessagesStreamConverted measures the same 20-event Chat stream
// to an Anthropic Messages client: every event converted.
func BenchmarkMessagesStreamConverted(b *testing.B) { benchmarkRun(b, convertedRun) }

// benchmarkRun times the request that setup prepares.
func benchmarkRun(b *testing.B, setup func(testing.TB) func()) {
	run := setup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
}

// TestHandlerAllocs bounds, in ordinary go test, the allocations of the
// benchmarks above: a request through the handler and an upstream over
// loopback (the upstream allocates nothing), a 20-event stream relayed, and
// the same stream converted for a Messages client (its conversion of the
// request and the stream's parser were 59 allocations before the parser
// and the output buffer were pooled).
func TestHandlerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	tests := []struct {
		name  string
		run   func(testing.TB) func()
		bound float64
	}{
		{"plain", plainRun, 1},
		{"stream", streamRun, 9},
		{"converted stream", convertedRun, 17},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := tc.run(t)
			run()
			if got := testing.AllocsPerRun(200, run); got > tc.bound {
				t.Fatalf("%.1f allocs per request, bound %.0f", got, tc.bound)
			}
		})
	}
}

// plainRun returns one non-stream request through a proxy in front of a
// static upstream.
func plainRun(tb testing.TB) func() {
	h := benchServer(tb, staticUpstream(tb, "application/json", benchAnswer))
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, nil, nil)
	body := `{"model":"bench","messages":[{"role":"user","content":"Hello"}]}`
	return func() {
		benchRequest(&ctx, body)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			tb.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

// streamRun returns one 20-event stream through a proxy in front of a
// static upstream, relayed to io.Discard.
func streamRun(tb testing.TB) func() {
	h := benchStreamServer(tb)
	body := `{"model":"bench","stream":true,"messages":[{"role":"user","content":"Hello"}]}`
	return relayRun(tb, h, "/v1/chat/completions", body)
}

// convertedRun is streamRun for an Anthropic Messages client.
func convertedRun(tb testing.TB) func() {
	body := `{"model":"bench","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hello"}]}`
	return relayRun(tb, benchStreamServer(tb), "/v1/messages", body)
}

// benchStreamServer is a proxy in front of a static upstream that answers
// every request with a 20-event Chat stream.
func benchStreamServer(tb testing.TB) fasthttp.RequestHandler {
	sse := ""
	for i := 0; i < 20; i++ {
		sse += benchEvent
	}
	sse += "data: [DONE]\n\n"
	return benchServer(tb, staticUpstream(tb, "text/event-stream", sse))
}

// relayRun returns one streamed request to path through h, relayed to
// io.Discard.
func relayRun(tb testing.TB, h fasthttp.RequestHandler, path, body string) func() {
	ctx := new(fasthttp.RequestCtx)
	// The relay sets write deadlines on the client connection: give it one.
	client, _ := net.Pipe()
	tb.Cleanup(func() { _ = client.Close() })
	ctx.Init2(client, nil, false)
	return func() {
		benchRequest(ctx, body)
		ctx.Request.SetRequestURI(path)
		h(ctx)
		wt, ok := ctx.Response.BodyStream().(io.WriterTo)
		if !ok {
			tb.Fatalf("status %d: no stream", ctx.Response.StatusCode())
		}
		if _, err := wt.WriteTo(io.Discard); err != nil {
			tb.Fatal(err)
		}
		_ = ctx.Response.CloseBodyStream()
	}
}

// BenchmarkChatPassThroughInProcessMock is the handler with the in-process
// mock provider: the proxy's cost without any network.
func BenchmarkChatPassThroughInProcessMock(b *testing.B) {
	cfg := baseConfig(config.Provider{Name: "mock", Type: config.TypeMock, Models: []string{"bench"}, Mock: config.Mock{Tokens: 3}})
	cfg.Log.Level = "warn"
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, nil, nil)
	body := `{"model":"bench","messages":[{"role":"user","content":"Hello"}]}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchRequest(&ctx, body)
		srv.srv.Handler(&ctx)
	}
}
