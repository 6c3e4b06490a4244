package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/llmproxy/proxy/proxy/console"
	"go.uber.org/zap"
)

// startAdmin serves pprof, the admin API (api, mounted at /api/) and the
// web console (at /, only with the API) on their own listener, apart from
// client traffic, so that none of them has a route on the public port.
// Requests must name a loopback host or one of allowedHosts.
func startAdmin(addr string, log *zap.Logger, api http.Handler, allowedHosts []string) (stop func(), err error) {
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
	srv := &http.Server{Handler: loopbackHost(allowedHosts, mux), ReadHeaderTimeout: 10 * time.Second}
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

// loopbackHost refuses a request whose Host is neither a loopback name or
// address nor one of allowed: the listener is on loopback, and a web page
// whose DNS name was rebound to 127.0.0.1 (to read pprof, or to make the
// browser guess the console's password) gives itself away by its name.
func loopbackHost(allowed []string, h http.Handler) http.Handler {
	names := map[string]bool{"localhost": true}
	for _, n := range allowed {
		names[strings.ToLower(n)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Host
		if host, _, err := net.SplitHostPort(name); err == nil {
			name = host
		}
		name = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"))
		if ip := net.ParseIP(name); !names[name] && (ip == nil || !ip.IsLoopback()) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":"host","message":"the admin listener answers only to loopback names and server.allowed_hosts"}}`+"\n")
			return
		}
		h.ServeHTTP(w, r)
	})
}
