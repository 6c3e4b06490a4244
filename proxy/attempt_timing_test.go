package proxy

import (
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// BenchmarkChatInProcess measures one non-stream chat request through the
// handler (auth aside) against the in-process mock provider: inspect,
// route, admission, breaker, attempt plan and answer. It guards the cost
// the reliability layer adds per request.
func BenchmarkChatInProcess(b *testing.B) {
	srv, err := New(baseConfig(mockProvider("local", 3, "local-gpt")), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(chatBody("local-gpt", false))
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI("/v1/chat/completions")
		ctx.Request.SetBody(body)
		srv.chat(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
