package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/llmproxy/proxy/loadtest"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/proxy"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fasthttp"
)

// loadTest runs `proxy loadtest`; Ctrl-C stops the run early with a report.
func loadTest(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return loadtest.Main(ctx, args, stdout, stderr, embedded)
}

// embeddedAPIKey is the client key of the in-process proxy.
const embeddedAPIKey = "loadtest"

// embedded starts the default load-test target in this process: the mock
// upstream on an ephemeral loopback port and the proxy in front of it, so
// that a run needs nothing installed.
func embedded(o loadtest.EmbedOptions) (*loadtest.Embedded, error) {
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mock upstream listener: %w", err)
	}
	// The profile shapes each answer through the mock's scripting headers,
	// so the mock itself runs with its defaults.
	mk := mock.NewServer(mock.ServerOptions{})
	up := &fasthttp.Server{Handler: o.Profile.Wrap(mk.Handler()), Name: "mock-upstream",
		ReadTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, CloseOnShutdown: true}
	go func() { _ = up.Serve(upLn) }()

	cfg := config.Defaults()
	cfg.Server.Port = 0
	cfg.Server.APIKeys = []string{embeddedAPIKey}
	cfg.Log.Level = "error"
	cfg.Providers = []config.Provider{{
		Name:    "mock-upstream",
		Type:    config.TypeOpenAI,
		BaseURL: "http://" + upLn.Addr().String() + "/v1",
		APIKeys: []string{"upstream-key"},
		Models:  []string{"*"},
	}}
	full, err := config.FromStruct(cfg)
	if err != nil {
		_ = upLn.Close()
		return nil, err
	}
	srv, err := proxy.New(full, nil)
	if err != nil {
		_ = upLn.Close()
		return nil, fmt.Errorf("embedded proxy: %w", err)
	}
	pLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = upLn.Close()
		return nil, fmt.Errorf("proxy listener: %w", err)
	}
	go func() { _ = srv.Serve(pLn) }()
	return &loadtest.Embedded{
		Target:   "http://" + pLn.Addr().String(),
		Baseline: "http://" + upLn.Addr().String(),
		APIKey:   embeddedAPIKey,
		Sample:   loadtest.SelfSample,
		Stop: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return errors.Join(srv.Shutdown(ctx), up.ShutdownWithContext(ctx))
		},
	}, nil
}
