package main

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/llmproxy/proxy/proxy/console"
	"go.uber.org/zap"
)

// startAdmin serves pprof, the admin API (api, mounted at /api/) and the
// web console (at /, only with the API) on their own listener, apart from
// client traffic, so that none of them has a route on the public port.
func startAdmin(addr string, log *zap.Logger, api http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if api != nil {
		mux.Handle("/api/", api)
		// The web console (proxy/console) calls the admin API under /api/:
		// it lives beside it on this listener and nowhere else.
		mux.Handle("/", console.Handler())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("admin listener (pprof, admin API)", zap.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close() // a live log (SSE) never goes idle: cut it
		}
	}, nil
}
