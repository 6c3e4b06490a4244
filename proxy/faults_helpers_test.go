package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/faults"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fastjson"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

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
