// Command fasthttpfloor is the least a fasthttp reverse proxy can do: copy
// the request to one upstream and its answer back, with no parsing, routing
// or accounting. `make bench-compare` runs it beside nginx and the proxy so
// that the report separates what the library costs from what the proxy adds.
//
//	fasthttpfloor -listen 127.0.0.1:18086 -upstream 127.0.0.1:18081
//
// With -reuseport several of them can share the port, one process per core
// as nginx's workers do (SO_REUSEPORT spreads the connections): what
// fasthttp's prefork mode would buy, measured on the floor.
package main

import (
	"flag"
	"log"
	"net"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/reuseport"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18086", "listen address")
	up := flag.String("upstream", "127.0.0.1:18081", "upstream host:port")
	shared := flag.Bool("reuseport", false, "listen with SO_REUSEPORT, so that several processes share the port")
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
	var ln net.Listener
	var err error
	if *shared {
		ln, err = reuseport.Listen("tcp4", *listen)
	} else {
		ln, err = net.Listen("tcp", *listen)
	}
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(fasthttp.Serve(ln, handler))
}
