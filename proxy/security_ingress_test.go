package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// siRecorder is an upstream that counts requests and remembers their paths.
type siRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (r *siRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.RawPath+"|"+req.URL.Path)
	r.mu.Unlock()
	_, _ = io.Copy(io.Discard, req.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`))
}

func (r *siRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

// siProxy serves a proxy with an OpenAI upstream (su-model, su-restricted),
// a Gemini upstream serving any model, the in-process mock, and a client
// "alice" limited to su-model.
func siProxy(t *testing.T, edit func(*config.Config)) (string, *siRecorder, *siRecorder) {
	t.Helper()
	openai, gemini := &siRecorder{}, &siRecorder{}
	gem := openaiProvider("gem", startUpstream(t, gemini)+"beta", "*")
	gem.Type = config.TypeGemini
	cfg := baseConfig(openaiProvider("su", startUpstream(t, openai), "su-model", "su-restricted"), gem,
		mockProvider("local", 3, "local-gpt"))
	cfg.Clients = []config.Client{{Name: "alice", Key: "alice-key", Models: []string{"su-model"}}}
	if edit != nil {
		edit(cfg)
	}
	_, base := startFaultProxy(t, cfg)
	return base, openai, gemini
}

func siPost(t *testing.T, url, ctype, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDuplicateAndEscapedKeysRefused: the upstream would read the last
// "model" (or an escaped spelling of it) while the proxy authorised the
// first; such bodies are refused in every ingress before routing.
func TestDuplicateAndEscapedKeysRefused(t *testing.T) {
	base, openai, _ := siProxy(t, nil)
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name, path, body, shape string
	}{
		{"chat duplicate model", "/v1/chat/completions", `{"model":"su-model",` + msgs + `,"model":"su-restricted"}`, `"param":"model"`},
		{"chat escaped model", "/v1/chat/completions", `{"model":"su-model",` + msgs + `,"mod\u0065l":"su-restricted"}`, `escape`},
		{"chat duplicate stream", "/v1/chat/completions", `{"model":"su-model",` + msgs + `,"stream":false,"stream":true}`, `"stream"`},
		{"chat duplicate messages", "/v1/chat/completions", `{"model":"su-model",` + msgs + `,` + msgs + `}`, `"messages"`},
		{"responses", "/v1/responses", `{"model":"su-model","input":"hi","model":"su-restricted"}`, `"param":"model"`},
		{"anthropic", "/v1/messages", `{"model":"su-model","max_tokens":5,` + msgs + `,"system":"a","system":"b"}`, `"type":"invalid_request_error"`},
		{"gemini", "/v1beta/models/su-model:generateContent", `{"contents":[{"parts":[{"text":"a"}]}],"contents":[{"parts":[{"text":"b"}]}]}`, `"status":"INVALID_ARGUMENT"`},
		{"NaN", "/v1/chat/completions", `{"model":"su-model",` + msgs + `,"temperature":NaN}`, `NaN`},
		{"overflow", "/v1/chat/completions", `{"model":"su-model",` + msgs + `,"temperature":1e999}`, `out of range`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := siPost(t, base+tc.path, "application/json", "alice-key", tc.body)
			if status != 400 || !strings.Contains(body, tc.shape) {
				t.Fatalf("status %d %s, want 400 with %s", status, body, tc.shape)
			}
		})
	}
	if n := len(openai.seen()); n != 0 {
		t.Fatalf("%d refused requests reached the upstream", n)
	}
}

// TestUnauthenticatedBodiesCostNothing: headers that declare a 10 MB body
// but carry no key are answered 401 at once, without a body buffer.
func TestUnauthenticatedBodiesCostNothing(t *testing.T) {
	base, _, _ := siProxy(t, nil)
	addr := strings.TrimPrefix(base, "http://")
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns = 20
	var open []net.Conn
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		_, _ = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{")
	}
	statuses := map[int]int{}
	for _, c := range open {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			statuses[0]++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), "missing API key") {
			t.Errorf("401 body %s", b)
		}
		statuses[resp.StatusCode]++
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	for _, c := range open {
		_ = c.Close()
	}
	if statuses[401] != conns {
		t.Errorf("statuses %v, want %d x 401", statuses, conns)
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Fatalf("heap grew %d MiB for %d unauthenticated requests of 4 bytes each", grew>>20, conns)
	}
}

// TestExpectContinueOnlyAfterAuth: a client that asks before sending its
// body gets its 401 instead of "100 Continue".
func TestExpectContinueOnlyAfterAuth(t *testing.T) {
	base, _, _ := siProxy(t, nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"authentication_error"`) {
		t.Fatalf("status %d %s, want 401 in Anthropic's shape", resp.StatusCode, b)
	}
}

// TestLargeBodiesShareABudget: while one large body is being read, a second
// that would exceed server.limits.max_inflight_body_bytes is refused before
// its body is read, with Retry-After.
func TestLargeBodiesShareABudget(t *testing.T) {
	base, _, _ := siProxy(t, func(c *config.Config) {
		c.Server.MaxBodyBytes = 1 << 20
		c.Server.Limits.MaxInflightBodyBytes = 1 << 20
	})
	addr := strings.TrimPrefix(base, "http://")
	body := `{"model":"local-gpt","messages":[{"role":"user","content":"` + strings.Repeat("a", 600<<10) + `"}]}`
	head := "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + testKey +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	var first net.Conn
	var resp *http.Response
	// The first request's headers may reach the server after the second's
	// (then the first is the one refused): start the pair again.
	for deadline := time.Now().Add(5 * time.Second); ; {
		var err error
		if first, err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(first, head+body[:100]) // holds its reservation
		time.Sleep(10 * time.Millisecond)
		second, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(second, head+body)
		_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err = http.ReadResponse(bufio.NewReader(second), nil)
		if err != nil {
			t.Fatal(err)
		}
		second.Close()
		if resp.StatusCode != 200 || time.Now().After(deadline) {
			break
		}
		first.Close()
	}
	defer first.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second large body: %d (Retry-After %q), want 503", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	_, _ = io.WriteString(first, body[100:])
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(first), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first large body: %v %v", resp, err)
	}
	if status, b := siPost(t, base+"/v1/chat/completions", "application/json", testKey, body); status != 200 {
		t.Fatalf("after the first finished: %d %s", status, b)
	}
}

// TestValueDenseBodyRefused: a small body of tiny values would cost far
// more parsed than sent; it is refused by server.limits.
func TestValueDenseBodyRefused(t *testing.T) {
	base, _, _ := siProxy(t, nil)
	dense := `{"model":"local-gpt","messages":[{"role":"user","content":"x"}],"stop":[` + strings.Repeat("1,", 300_000) + `1]}`
	status, body := siPost(t, base+"/v1/chat/completions", "application/json", testKey, dense)
	if status != 413 || !strings.Contains(body, "server.limits") {
		t.Fatalf("status %d %.300s, want 413", status, body)
	}
	many := `{"model":"local-gpt","messages":[` + strings.Repeat(`{"role":"user","content":"x"},`, 10_000) + `{"role":"user","content":"x"}]}`
	status, body = siPost(t, base+"/v1/chat/completions", "application/json", testKey, many)
	if status != 413 || !strings.Contains(body, "max_array_items") {
		t.Fatalf("status %d %.300s, want 413", status, body)
	}
}

// TestDriveByFromWebPages: what a web page can send to a local port without
// a preflight (text/plain, a form, a key in the URL) or by DNS rebinding (a
// foreign Host) is refused.
func TestDriveByFromWebPages(t *testing.T) {
	base, _, _ := siProxy(t, nil)
	body := chatBody("local-gpt", false)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		if status, b := siPost(t, base+"/v1/chat/completions", ct, testKey, body); status != 415 {
			t.Errorf("Content-Type %q: %d %s, want 415", ct, status, b)
		}
	}
	if status, _ := siPost(t, base+"/v1/chat/completions", "application/json; charset=utf-8", testKey, body); status != 200 {
		t.Errorf("application/json with charset refused: %d", status)
	}
	if status, _ := siPost(t, base+"/v1/chat/completions?key="+testKey, "application/json", "", body); status != 401 {
		t.Errorf("?key= accepted on an OpenAI route: %d", status)
	}
	gem := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	if status, b := siPost(t, base+"/v1beta/models/local-gpt:generateContent?key="+testKey, "application/json", "", gem); status != 200 {
		t.Errorf("?key= refused on a Gemini route: %d %s", status, b)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	req.Host = "attacker.example:3000"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("foreign Host on a loopback listener: %d, want 403", resp.StatusCode)
	}
}

// TestModelNamesCannotLeaveTheBaseURL: a model name that would walk out of
// a Gemini upstream's path is refused before anything is sent with the
// operator's key.
func TestModelNamesCannotLeaveTheBaseURL(t *testing.T) {
	base, _, gemini := siProxy(t, nil)
	gem := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	for _, model := range []string{"x/../../../admin", "gem:x/../../admin", "gem:../admin", "gem:a/b"} {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
		if status, b := siPost(t, base+"/v1/chat/completions", "application/json", testKey, body); status != 400 {
			t.Errorf("model %q: %d %s, want 400", model, status, b)
		}
	}
	for _, path := range []string{"/v1beta/models/x%2F..%2F..%2F..%2Fadmin:generateContent", "/gem/v1beta/models/x%2F..%2Fadmin:generateContent"} {
		if status, b := siPost(t, base+path, "application/json", testKey, gem); status != 400 && status != 404 {
			t.Errorf("path %q: %d %s, want 400 or 404", path, status, b)
		}
	}
	if seen := gemini.seen(); len(seen) != 0 {
		t.Fatalf("the Gemini upstream was called: %v", seen)
	}
	if status, b := siPost(t, base+"/v1beta/models/gemini-2.5-flash:generateContent", "application/json", testKey, gem); status != 200 {
		t.Fatalf("a plain model: %d %s", status, b)
	}
	if seen := gemini.seen(); len(seen) != 1 || !strings.HasSuffix(seen[0], "/v1beta/models/gemini-2.5-flash:generateContent") {
		t.Fatalf("upstream paths %v", seen)
	}
}

// TestParseErrorsDoNotEchoKeys: fasthttp's messages for requests it cannot
// parse quote the request; neither the answer nor the log may carry the
// client's key.
func TestParseErrorsDoNotEchoKeys(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	srv, base := startLoggedProxy(t, baseConfig(mockProvider("local", 3, "local-gpt")), zap.New(core))
	addr := strings.TrimPrefix(base, "http://")
	const secret = "sk-client-secret-123"
	for _, raw := range []string{
		"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + secret + "\r\nContent-Length: abc\r\n\r\n",
		"POST /v1/chat/completions?key=" + secret + " HTTP/1.1\r\nHost: localhost\r\nx-api-key: " + secret + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /v1beta/models?key=" + secret + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, raw)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		if strings.Contains(string(b), secret) {
			t.Errorf("answer echoes the key: %s", b)
		}
	}
	_ = srv.log.Sync()
	for _, e := range logs.All() {
		line := e.Message
		for _, f := range e.Context {
			line += " " + f.String
		}
		if strings.Contains(line, secret) {
			t.Errorf("log line carries the key: %s", line)
		}
	}
}

// TestFramingEdges: a request with both Content-Length and
// Transfer-Encoding is refused and its connection closed; an HTTP/1.0
// client is not sent a chunked stream it cannot read.
func TestFramingEdges(t *testing.T) {
	base, _, _ := siProxy(t, nil)
	addr := strings.TrimPrefix(base, "http://")
	body := chatBody("local-gpt", false)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "+testKey+
		"\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"+
		strconv.FormatInt(int64(len(body)), 16)+"\r\n"+body+"\r\n0\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	all, err := io.ReadAll(c) // returns only when the proxy closes the connection
	if err != nil {
		t.Fatalf("connection left open after an ambiguous request: %v", err)
	}
	if !strings.HasPrefix(string(all), "HTTP/1.1 400") || !strings.Contains(string(all), "Transfer-Encoding") {
		t.Fatalf("answer %q", all)
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	stream := chatBody("local-gpt", true)
	_, _ = io.WriteString(c2, "POST /v1/chat/completions HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer "+testKey+
		"\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(stream))+"\r\n\r\n"+stream)
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	all, _ = io.ReadAll(c2)
	if strings.Contains(strings.ToLower(string(all)), "transfer-encoding: chunked") || !strings.Contains(string(all), " 400 ") {
		t.Fatalf("HTTP/1.0 stream answer %q", all)
	}
}
