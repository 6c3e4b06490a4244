package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/llmproxy/proxy/loadtest"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fasthttp"
)

// loadTest runs `proxy loadtest`; Ctrl-C stops the run early with a report.
func loadTest(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return loadtest.Main(ctx, args, stdout, stderr, embedded)
}

// embeddedAPIKey is the client key of the embedded proxy.
const embeddedAPIKey = "loadtest"

// embedded starts the default load-test target: the mock upstream in this
// process on an ephemeral loopback port, and the proxy in front of it as a
// child process (this same executable, `serve`), so that a run needs
// nothing installed and the proxy's CPU time and memory, read from its
// /proc, are its own and not the generator's or the mock's.
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
	stopUp := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return up.ShutdownWithContext(ctx)
	}
	child, err := startProxyChild("http://" + upLn.Addr().String() + "/v1")
	if err != nil {
		return nil, errors.Join(err, stopUp())
	}
	sample, err := loadtest.PIDSampler(child.cmd.Process.Pid)
	if err != nil {
		return nil, errors.Join(err, child.stop(), stopUp())
	}
	return &loadtest.Embedded{
		Target:   child.url,
		Baseline: "http://" + upLn.Addr().String(),
		APIKey:   embeddedAPIKey,
		Sample:   sample,
		PID:      child.cmd.Process.Pid,
		Stop:     func() error { return errors.Join(child.stop(), stopUp()) },
	}, nil
}

// proxyChild is the embedded proxy's process.
type proxyChild struct {
	cmd    *exec.Cmd
	url    string
	dir    string
	stderr *bytes.Buffer
	exited chan struct{}
	once   sync.Once
	err    error
}

// childConfig is the embedded proxy's configuration: one OpenAI-type
// provider, the mock, for every model, and only errors logged.
const childConfig = `server:
  host: 127.0.0.1
  port: %d
  api_keys: [%q]
  shutdown_grace: 5s
log:
  level: error
  format: json
providers:
  - name: mock-upstream
    type: openai
    base_url: %q
    api_keys: ["upstream-key"]
    models: ["*"]
`

// startProxyChild runs `serve` on a free loopback port with upstream as its
// only provider and waits until it accepts connections.
func startProxyChild(upstream string) (*proxyChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("embedded proxy: find this executable: %w", err)
	}
	port, err := loopbackPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "proxy-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("embedded proxy: %w", err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, childConfig, port, embeddedAPIKey, upstream), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("embedded proxy config: %w", err)
	}
	c := &proxyChild{url: "http://127.0.0.1:" + strconv.Itoa(port), dir: dir, stderr: &bytes.Buffer{},
		exited: make(chan struct{})}
	c.cmd = exec.Command(exe, "serve", "--config", cfgPath)
	c.cmd.Stdout, c.cmd.Stderr = io.Discard, c.stderr
	// Its own process group keeps a terminal's Ctrl-C, which ends the run
	// early with a report, from stopping the proxy under it first; the
	// death signal stops it if the load tester is killed outright.
	c.cmd.SysProcAttr = childProcAttr()
	if err := c.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("embedded proxy: start: %w", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitReady(10 * time.Second); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return c, nil
}

// waitReady polls the child's port until it accepts a connection.
func (c *proxyChild) waitReady(limit time.Duration) error {
	addr := c.url[len("http://"):]
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("embedded proxy exited at start: %v: %s", c.err, c.stderr.Bytes())
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = conn.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("embedded proxy not listening on %s after %v", addr, limit)
}

// stop ends the child with SIGTERM (its graceful shutdown), or kills it
// when that takes too long, and removes its config.
func (c *proxyChild) stop() error {
	var err error
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
			err = errors.New("embedded proxy did not stop on SIGTERM; killed")
		}
		err = errors.Join(err, os.RemoveAll(c.dir))
	})
	return err
}

// loopbackPort returns a loopback port that was free a moment ago.
func loopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("embedded proxy: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
