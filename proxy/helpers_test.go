package proxy

// Test helpers shared by the proxy package's tests: servers on loopback
// (proxy, mock and scripted upstreams), clients, and the fixtures of the
// fault and protocol-matrix suites.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/copilot/copilotmock"
	"github.com/llmproxy/proxy/providers/faults"
	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fastjson"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
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
	serveOn(t, srv, ln)
	return srv, "http://" + ln.Addr().String()
}

// serveOn serves srv on ln until cleanup, when it must shut down cleanly.
func serveOn(t *testing.T, srv *Server, ln net.Listener) {
	t.Helper()
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

// The fault suite's helpers: fault-injecting upstreams, a proxy in front of
// them with short timeouts, and clients that read what they got.

const faultModel = "m"

// checkLeaks registers, as the test's first cleanup (so it runs last, after
// servers and clients closed), a check that the test left no goroutine
// behind: no relay, upstream read or health checker.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		goleak.VerifyNone(t,
			goleak.IgnoreCurrent(),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		)
	})
}

// startFaults starts a fault server that answers def by default.
func startFaults(t *testing.T, def faults.Script) *faults.Server {
	t.Helper()
	s, err := faults.Start(def)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// faultProvider is an OpenAI provider in front of a fault server with nkeys
// keys named name-k0, name-k1, ...
func faultProvider(name, baseURL string, nkeys int) config.Provider {
	p := openaiProvider(name, baseURL+"/v1", faultModel)
	p.APIKeys = nil
	for i := range nkeys {
		p.APIKeys = append(p.APIKeys, name+"-k"+string(rune('0'+i)))
	}
	p.FirstByteTimeout = 2 * time.Second
	p.IdleTimeout = 2 * time.Second
	// Breakers stay out of the way unless a test is about them.
	p.Breaker.ConsecutiveFailures = -1
	p.Breaker.MinRequests = 1000
	return p
}

// faultConfig has provider a (3 keys) with provider b (1 key) as the
// fallback of model m, and fast retries.
func faultConfig(a, b config.Provider) *config.Config {
	cfg := baseConfig(a, b)
	cfg.Fallbacks = map[string][]string{faultModel: {b.Name + "/" + faultModel}}
	cfg.Retry = config.Retry{MaxAttempts: 3, PerTarget: 2, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxTotal: 10 * time.Second}
	cfg.Server.StreamHeartbeat = 100 * time.Millisecond
	cfg.Server.WriteTimeout = time.Second
	return cfg
}

// startFaultProxy is startProxy with config defaults filled in (as the
// file loader would) and a bounded shutdown.
func startFaultProxy(t *testing.T, cfg *config.Config) (*Server, string) {
	t.Helper()
	return startLoggedProxy(t, cfg, testLogger(t))
}

// startLoggedProxy is startFaultProxy logging to log.
func startLoggedProxy(t *testing.T, cfg *config.Config, log *zap.Logger) (*Server, string) {
	t.Helper()
	full, err := config.FromStruct(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(full, log)
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv, "http://" + ln.Addr().String()
}

// chatResult is what a client got for one chat request.
type chatResult struct {
	status     int
	retryAfter string
	text       string // assistant text, from the body or the stream's deltas
	done       bool   // the stream ended with [DONE]
	streamErr  string // message of an in-stream error event
	errType    string // error.type of an error answer
	raw        string
}

// chat sends a chat request for model m and reads the answer whole.
func chat(t *testing.T, hc *http.Client, base string, stream bool, hdr map[string]string) chatResult {
	t.Helper()
	h := bearer(testKey)
	for k, v := range hdr {
		h[k] = v
	}
	req, err := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(chatBody(faultModel, stream)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("chat request: %v", err)
	}
	// A stream that broke ends its chunked body without the last chunk
	// (after the error event): keep what arrived.
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return parseChat(resp, string(b), stream)
}

func parseChat(resp *http.Response, body string, stream bool) chatResult {
	r := chatResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: body}
	if resp.StatusCode != 200 {
		if v, err := fastjson.Parse(body); err == nil {
			r.errType = string(v.GetStringBytes("error", "type"))
		}
		return r
	}
	if !stream {
		if v, err := fastjson.Parse(body); err == nil {
			r.text = string(v.GetStringBytes("choices", "0", "message", "content"))
		}
		return r
	}
	br := bufio.NewReader(strings.NewReader(body))
	for {
		data, err := readDataEvent(br)
		if err != nil {
			return r
		}
		if data == "[DONE]" {
			r.done = true
			continue
		}
		v, err := fastjson.Parse(data)
		if err != nil {
			continue
		}
		if e := v.Get("error"); e != nil {
			r.streamErr = string(e.GetStringBytes("message"))
			continue
		}
		r.text += string(v.GetStringBytes("choices", "0", "delta", "content"))
	}
}

// waitDisconnect waits (bounded) for the fault server to see a client
// (the proxy) leave mid-response.
func waitDisconnect(t *testing.T, s *faults.Server, within time.Duration) {
	t.Helper()
	select {
	case <-s.Disconnects():
	case <-time.After(within):
		t.Fatalf("upstream still connected %v after the client left", within)
	}
}

// waitIdle waits (bounded) until the proxy serves no client connection.
func waitIdle(t *testing.T, srv *Server, hc *http.Client) {
	t.Helper()
	hc.CloseIdleConnections()
	deadline := time.Now().Add(3 * time.Second)
	for srv.OpenConnections() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d client connections still open", srv.OpenConnections())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keysSeen lists the keys a fault server's requests carried, in order.
func keysSeen(s *faults.Server) []string {
	var ks []string
	for _, r := range s.Log() {
		ks = append(ks, r.Key)
	}
	return ks
}

// rawStream opens a streaming chat request on a plain TCP connection and
// returns it after the response headers, for tests that control reading.
func rawStream(t *testing.T, base string, rcvBuf int) (net.Conn, *bufio.Reader) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rcvBuf > 0 {
		_ = c.(*net.TCPConn).SetReadBuffer(rcvBuf)
	}
	t.Cleanup(func() { _ = c.Close() })
	body := chatBody(faultModel, true)
	req := "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + testKey +
		"\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReaderSize(c, 16)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// testLogger logs warnings and errors into the test's output.
func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// The protocol matrix: every official SDK as a client of the proxy, against
// every upstream type, each served by the standalone mock over loopback
// (or the in-process mock). One mock server and one proxy serve the whole
// matrix so that it stays quick.

// matrixTokens is the answer length of every upstream in the matrix.
const matrixTokens = 7

// upstreamCase is one upstream of the matrix: the model that routes to it
// and the protocol it speaks.
type upstreamCase struct {
	name  string
	model string
	proto wire.Protocol
	// recorded: the mock server sees its requests (not the in-process mock).
	recorded bool
}

var matrixUpstreams = []upstreamCase{
	{name: "openai", model: "up-openai", proto: wire.OpenAIChat, recorded: true},
	{name: "openai-responses", model: "up-responses", proto: wire.OpenAIResponses, recorded: true},
	{name: "claude", model: "up-claude", proto: wire.Anthropic, recorded: true},
	{name: "gemini", model: "up-gemini", proto: wire.Gemini, recorded: true},
	{name: "mock", model: "up-local", proto: wire.OpenAIChat},
	// A ChatGPT sign-in account (type codex) on the mock's Responses API:
	// every request streamed upstream, answers assembled for non-stream
	// clients.
	{name: "codex", model: "up-codex", proto: wire.OpenAIResponses, recorded: true},
	// A Google sign-in account (type gemini-cli) on the mock's Code Assist
	// API: Gemini requests in Code Assist's envelope, answers unwrapped.
	{name: "gemini-cli", model: "up-gcli", proto: wire.Gemini, recorded: true},
	// The same API in Antigravity's dialect (its envelope fields, no
	// safetySettings or maxOutputTokens).
	{name: "antigravity", model: "up-agy", proto: wire.Gemini, recorded: true},
	// A GitHub Copilot account (type copilot): its GitHub token traded at
	// the mock GitHub for a Copilot token naming the mock's OpenAI chat
	// API as the account's API host.
	{name: "copilot", model: "up-copilot", proto: wire.OpenAIChat, recorded: true},
}

// recorder keeps the bodies the mock upstream received.
type recorder struct {
	mu     sync.Mutex
	bodies []upRequest
}

type upRequest struct{ path, body string }

func (r *recorder) record(path string, body []byte) {
	r.mu.Lock()
	r.bodies = append(r.bodies, upRequest{path, string(body)})
	r.mu.Unlock()
}

// find returns the last request whose body contains marker.
func (r *recorder) find(marker string) (upRequest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.bodies) - 1; i >= 0; i-- {
		if strings.Contains(r.bodies[i].body, marker) {
			return r.bodies[i], true
		}
	}
	return upRequest{}, false
}

// matrixErrorStatuses are the upstream errors the matrix injects.
var matrixErrorStatuses = []int{429, 529, 503}

// errorSuffix names the providers and models kept for one injected status.
func errorSuffix(status int) string { return "-e" + strconv.Itoa(status) }

func errorSuffixes() []string {
	var out []string
	for _, st := range matrixErrorStatuses {
		out = append(out, errorSuffix(st))
	}
	return out
}

// matrixFixture starts the mock upstream and a proxy routing one model to
// each upstream type, and returns the proxy's base URL.
func matrixFixture(t *testing.T) (base string, rec *recorder) {
	t.Helper()
	rec = &recorder{}
	up := strings.TrimSuffix(mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: matrixTokens}, OnRequest: rec.record}), "/v1")
	typed := func(name, typ, baseURL, model string) config.Provider {
		p := openaiProvider(name, baseURL, model)
		p.Type = typ
		return p
	}
	cfg := baseConfig()
	creds := t.TempDir()
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if err := os.WriteFile(filepath.Join(creds, "acct.json"), []byte(`{"type":"codex","email":"matrix@example.com","access_token":"`+
		upstreamKey+`","refresh_token":"rt","account_id":"acct-matrix","expires_at":"`+exp+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, "google.json"), []byte(`{"access_token":"`+upstreamKey+`","refresh_token":"rt","expiry_date":`+
		strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	gcliProvider := func(name, model string) config.Provider {
		p := typed(name, config.TypeGeminiCLI, up, model)
		p.APIKeys, p.Credentials = nil, filepath.Join(creds, "google.json")
		return p
	}
	agyProvider := func(name, model string) config.Provider {
		p := gcliProvider(name, model)
		p.Type, p.OAuth.ClientID = config.TypeAntigravity, "matrix-client"
		return p
	}
	github := copilotmock.Start(t, copilotmock.Options{GitHubTokens: []string{"gho_matrix"}, API: up + "/v1"})
	copilotProvider := func(name, model string) config.Provider {
		p := typed(name, config.TypeCopilot, up+"/unused", model)
		p.APIKeys, p.Copilot.TokenURL = []string{"gho_matrix"}, github.URL+"/copilot_internal/v2/token"
		return p
	}
	codexProvider := func(name, model string) config.Provider {
		p := typed(name, config.TypeCodex, up+"/v1", model)
		p.APIKeys, p.Credentials = nil, filepath.Join(creds, "acct.json")
		return p
	}
	// Each upstream also gets one provider per injected error status: a 429
	// cools its key down and repeated 5xx trip its breaker, which must not
	// leak into the other cases.
	for _, suffix := range append([]string{""}, errorSuffixes()...) {
		cfg.Providers = append(cfg.Providers,
			typed("p-openai"+suffix, config.TypeOpenAI, up+"/v1", "up-openai"+suffix),
			typed("p-responses"+suffix, config.TypeOpenAIResponses, up+"/v1", "up-responses"+suffix),
			typed("p-claude"+suffix, config.TypeClaude, up+"/v1", "up-claude"+suffix),
			typed("p-gemini"+suffix, config.TypeGemini, up+"/v1beta", "up-gemini"+suffix),
			mockProvider("p-local"+suffix, matrixTokens, "up-local"+suffix),
			codexProvider("p-codex"+suffix, "up-codex"+suffix),
			gcliProvider("p-gcli"+suffix, "up-gcli"+suffix),
			agyProvider("p-agy"+suffix, "up-agy"+suffix),
			copilotProvider("p-copilot"+suffix, "up-copilot"+suffix),
		)
	}
	for i := range cfg.Providers {
		if strings.Contains(cfg.Providers[i].Name, "-e") {
			// Every client sends each error case: the breaker would open.
			cfg.Providers[i].Breaker.Disabled = true
		}
	}
	_, base = startProxy(t, cfg)
	return base, rec
}

// testImage is the image every image turn attaches (a PNG signature and a
// few bytes: nothing on the way decodes it).
var testImage = []byte("\x89PNG\r\n\x1a\nmock-image-bytes")

func testImageB64() string     { return base64.StdEncoding.EncodeToString(testImage) }
func testImageDataURL() string { return "data:image/png;base64," + testImageB64() }

// upstreamImage finds the image in a request body of protocol p and
// returns it as a data URL, or "" when the body carries none in p's shape.
func upstreamImage(p wire.Protocol, body string) string {
	v, err := fastjson.Parse(body)
	if err != nil {
		return ""
	}
	found := ""
	walk(v, func(o *fastjson.Value) {
		if found != "" {
			return
		}
		switch p {
		case wire.OpenAIChat:
			if string(o.GetStringBytes("type")) == "image_url" {
				found = string(o.GetStringBytes("image_url", "url"))
			}
		case wire.OpenAIResponses:
			if string(o.GetStringBytes("type")) == "input_image" {
				found = string(o.GetStringBytes("image_url"))
			}
		case wire.Anthropic:
			if string(o.GetStringBytes("type")) == "image" && string(o.GetStringBytes("source", "type")) == "base64" {
				found = "data:" + string(o.GetStringBytes("source", "media_type")) + ";base64," + string(o.GetStringBytes("source", "data"))
			}
		case wire.Gemini:
			if d := o.Get("inlineData"); d != nil {
				found = "data:" + string(d.GetStringBytes("mimeType")) + ";base64," + string(d.GetStringBytes("data"))
			}
		}
	})
	return found
}

// walk calls f on every object in v, depth first.
func walk(v *fastjson.Value, f func(*fastjson.Value)) {
	switch v.Type() {
	case fastjson.TypeObject:
		f(v)
		v.GetObject().Visit(func(_ []byte, c *fastjson.Value) { walk(c, f) })
	case fastjson.TypeArray:
		for _, c := range v.GetArray() {
			walk(c, f)
		}
	}
}

// toolCall is one call as a client received it; args is the decoded JSON.
type toolCall struct {
	id, name string
	args     map[string]any
}

// wantCalls is the mock's tool-call answer as the client should see it.
func wantCalls(t *testing.T) []toolCall {
	t.Helper()
	var out []toolCall
	for _, c := range mock.ToolCalls() {
		out = append(out, toolCall{id: c.ID, name: c.Name, args: decodeArgs(t, c.Arguments)})
	}
	return out
}

func decodeArgs(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("tool arguments %q are not a JSON object: %v", s, err)
	}
	return m
}

// toolOutput is the result the client sends back for a call.
func toolOutput(c toolCall) string { return `{"result":"sunny for ` + c.name + `"}` }

// weatherSchema is the JSON schema every client declares for both tools.
var weatherSchema = map[string]any{
	"type":       "object",
	"properties": map[string]any{"city": map[string]any{"type": "string"}, "tz": map[string]any{"type": "string"}},
}

// query is one request a matrix client sends.
type query struct {
	model  string
	stream bool
	prompt string
	image  bool // attach testImage as a data URL in the client's own format
	tools  bool // declare get_weather and get_time
	// results, when set, continues the conversation: the assistant's turn
	// made these calls and the client answers each with toolOutput.
	results []toolCall
	hdr     map[string]string
}

// turn is what a client made of one answer.
type turn struct {
	text    string
	finish  string // the SDK's own finish/stop value
	in, out int64
	calls   []toolCall
}

func encodeArgs(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
