package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/spf13/pflag"
)

// mockUpstream runs the standalone mock upstream, which speaks the OpenAI
// Chat and Responses, Anthropic Messages and Gemini APIs.
func mockUpstream(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("mock-upstream", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9001", "listen address")
	tokens := fs.Int("tokens", 20, "answer length in tokens (one stream chunk each)")
	delay := fs.Duration("delay", 0, "delay between stream chunks")
	errRate := fs.Float64("error-rate", 0, "fraction of chat requests answered with --error-status")
	errStatus := fs.Int("error-status", 500, "status of injected errors")
	stall := fs.Duration("stall", 0, "wait before answering each chat request")
	models := fs.StringSlice("models", []string{"mock-gpt"}, "models listed by GET /v1/models")
	if code := parseFlags(fs, args, "proxy mock-upstream [--addr HOST:PORT] [flags]", stdout, stderr); code >= 0 {
		return code
	}
	if *errRate < 0 || *errRate > 1 {
		fmt.Fprintln(stderr, "mock-upstream: --error-rate must be between 0 and 1")
		return 2
	}
	srv := mock.NewServer(mock.ServerOptions{
		Behaviour:   mock.Behaviour{Tokens: *tokens, Delay: *delay, Stall: *stall},
		Models:      *models,
		ErrorRate:   *errRate,
		ErrorStatus: *errStatus,
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "mock-upstream:", err)
		return 1
	}
	fmt.Fprintf(stderr, "mock-upstream listening on http://%s (tokens=%d delay=%s error-rate=%g)\n", ln.Addr(), *tokens, *delay, *errRate)
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		<-sigs
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(stderr, "mock-upstream:", err)
		return 1
	}
	return 0
}
