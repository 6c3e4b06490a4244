// Command fasthttpfloor is the least a fasthttp reverse proxy can do: copy
// the request to one upstream and its answer back, with no parsing, routing
// or accounting. `make bench-compare` runs it beside nginx and the proxy so
// that the report separates what the library costs from what the proxy adds.
//
//	fasthttpfloor -listen 127.0.0.1:18086 -upstream 127.0.0.1:18081
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18086", "listen address")
	up := flag.String("upstream", "127.0.0.1:18081", "upstream host:port")
	flag.Parse()
	hc := &fasthttp.HostClient{Addr: *up, MaxConns: 1024}
	handler := func(ctx *fasthttp.RequestCtx) {
		req := fasthttp.AcquireRequest()
		ctx.Request.CopyTo(req)
		req.Header.SetHost(*up)
		if err := hc.Do(req, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
		fasthttp.ReleaseRequest(req)
	}
	log.Fatal(fasthttp.ListenAndServe(*listen, handler))
}
