package metrics

import (
	"github.com/valyala/fasthttp"
)

// ContentType is the Prometheus text exposition format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves GET /metrics. It writes straight into the response body
// buffer, so a scrape costs no extra copy.
func (s *Set) Handler(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	ctx.SetContentType(ContentType)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	s.WritePrometheus(ctx)
}
