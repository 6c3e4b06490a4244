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
//
// With -like-proxy it runs with the fasthttp settings the proxy uses
// (ReduceMemoryUsage, 4 KB buffers, read and idle timeouts, answers
// streamed from the upstream instead of read whole): the CPU between the
// two floors is what those choices cost, and what is left between this
// floor and the proxy is the proxy's own work.
package main

import (
	"flag"
	"log"
	"net"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/reuseport"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18086", "listen address")
	up := flag.String("upstream", "127.0.0.1:18081", "upstream host:port")
	shared := flag.Bool("reuseport", false, "listen with SO_REUSEPORT, so that several processes share the port")
	likeProxy := flag.Bool("like-proxy", false, "use the proxy's fasthttp settings (ReduceMemoryUsage, 4 KB buffers, timeouts, streamed answers)")
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
	srv := &fasthttp.Server{Handler: handler}
	if *likeProxy {
		// The values of proxy/server.go and providers/upstream with the
		// default configuration.
		srv.ReadTimeout, srv.IdleTimeout = 30*time.Second, 120*time.Second
		srv.ReadBufferSize, srv.WriteBufferSize = 4096, 4<<10
		srv.ReduceMemoryUsage = true
		hc.ReadBufferSize = 4096
		hc.StreamResponseBody = true
		hc.MaxIdleConnDuration = 30 * time.Second
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
	log.Fatal(srv.Serve(ln))
}
