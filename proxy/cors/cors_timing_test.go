package cors

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func BenchmarkWrapAllowedOrigin(b *testing.B) {
	p, err := New(Config{Origins: []string{"https://a.test", "https://app.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	h := p.Wrap(func(ctx *fasthttp.RequestCtx) {})
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.Header.Set("Origin", "https://app.example.com")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Header.Reset()
		h(&ctx)
	}
}
