package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fastjson"
	"go.uber.org/zap"
)

// testKey is the client key every test proxy accepts.
const testKey = "client-key-1"

// upstreamKey is the key test providers send upstream.
const upstreamKey = "upstream-key-1"

// chatBody is a minimal valid chat request for model.
func chatBody(model string, stream bool) string {
	s := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]`
	if stream {
		s += `,"stream":true`
	}
	return s + "}"
}

// baseConfig is the defaults with a known client key and the given providers.
func baseConfig(ps ...config.Provider) *config.Config {
	c := config.Defaults()
	c.Server.APIKeys = []string{testKey}
	c.Providers = ps
	return &c
}

// openaiProvider is an OpenAI-type provider at baseURL with bounded timeouts,
// so that a broken test fails instead of hanging.
func openaiProvider(name, baseURL string, models ...string) config.Provider {
	return config.Provider{
		Name:             name,
		Type:             config.TypeOpenAI,
		BaseURL:          baseURL,
		APIKeys:          []string{upstreamKey},
		Models:           models,
		MaxConns:         64,
		PoolWait:         2 * time.Second,
		ConnectTimeout:   2 * time.Second,
		FirstByteTimeout: 10 * time.Second,
		IdleTimeout:      10 * time.Second,
		// The scripting headers of the mock and of the tests' own upstreams
		// reach them because the operator (the test) says so.
		ForwardHeaders: testForwardHeaders,
	}
}

// testForwardHeaders are the client headers test upstreams act on.
var testForwardHeaders = append([]string{"X-Test-Stall", "X-Test-Answer", "X-Custom-Trace"}, mock.Headers...)

func mockProvider(name string, tokens int, models ...string) config.Provider {
	return config.Provider{Name: name, Type: config.TypeMock, Models: models, Mock: config.Mock{Tokens: tokens}}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// startProxy serves cfg on an ephemeral loopback port and returns the server
// and its base URL (http://127.0.0.1:PORT). It is shut down at cleanup.
func startProxy(t *testing.T, cfg *config.Config) (*Server, string) {
	t.Helper()
	srv, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("proxy shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("proxy serve: %v", err)
		}
	})
	return srv, "http://" + ln.Addr().String()
}

// startMock runs the standalone mock upstream and returns its base URL
// including /v1, as a provider's base_url wants it.
func startMock(t *testing.T, o mock.ServerOptions) string {
	t.Helper()
	s := mock.NewServer(o)
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("mock shutdown: %v", err)
		}
		<-done
	})
	return "http://" + ln.Addr().String() + "/v1"
}

// startUpstream runs a test upstream handler on a loopback port and returns
// its base URL including /v1.
func startUpstream(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL + "/v1"
}

// closedPortURL returns a base URL on which nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/v1"
}

// httpClient is a client whose idle connections are closed at cleanup, so
// that the leak check sees no stray transport goroutines.
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 8, ResponseHeaderTimeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// do sends one request and returns the response (body read and closed) and body.
func do(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// openAIError checks that b is an OpenAI error object and returns its
// type, code and message.
func openAIError(t *testing.T, b []byte) (typ, code, msg string) {
	t.Helper()
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, b)
	}
	e := v.Get("error")
	if e == nil || e.Type() != fastjson.TypeObject {
		t.Fatalf("error body has no error object: %q", b)
	}
	if e.Get("message") == nil || e.Get("type") == nil || e.Get("param") == nil || e.Get("code") == nil {
		t.Fatalf("error object lacks message/type/param/code: %q", b)
	}
	return string(e.GetStringBytes("type")), string(e.GetStringBytes("code")), string(e.GetStringBytes("message"))
}

// sseEvent is one event as a client parses it.
type sseEvent struct {
	comment bool
	data    string
}

// readEvent reads one SSE event (or heartbeat comment) from r.
func readEvent(r *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	seen := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if seen {
				return ev, nil
			}
			continue
		}
		seen = true
		switch {
		case strings.HasPrefix(line, ":"):
			ev.comment = true
		case strings.HasPrefix(line, "data:"):
			if ev.data != "" {
				ev.data += "\n"
			}
			ev.data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
}

// readDataEvent reads events from r, skipping heartbeat comments.
func readDataEvent(r *bufio.Reader) (string, error) {
	for {
		ev, err := readEvent(r)
		if err != nil {
			return "", err
		}
		if !ev.comment {
			return ev.data, nil
		}
	}
}
