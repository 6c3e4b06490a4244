package proxy

import (
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fastjson"
)

// TestErrorAnswers sends requests that must fail, checks that each gets the
// right status in the OpenAI error shape, and that the server keeps serving
// afterwards (a good request after every case).
func TestErrorAnswers(t *testing.T) {
	up := mocktest.Start(t, mock.ServerOptions{Behaviour: mock.Behaviour{Tokens: 4}})
	scripted := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Test-Answer") {
		case "429":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`))
		case "html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body>bad gateway</body></html>"))
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	slow := openaiProvider("slow", up, "slow-model")
	slow.FirstByteTimeout = 300 * time.Millisecond
	cfg := baseConfig(
		mockProvider("local", 3, "local-gpt"),
		openaiProvider("remote", up, "remote-gpt"),
		openaiProvider("dead", closedPortURL(t), "dead-model"),
		slow,
		// One provider per scripted case: a 429 puts the provider's only
		// key in cooldown, and later requests to it are answered 429 by the
		// proxy without reaching the upstream.
		openaiProvider("scripted", scripted, "scripted-model"),
		openaiProvider("scripted-stream", scripted, "scripted-stream-model"),
		openaiProvider("scripted-html", scripted, "scripted-html-model"),
	)
	cfg.Server.MaxBodyBytes = 4096
	_, base := startProxy(t, cfg)
	hc := httpClient(t)
	chat := base + "/v1/chat/completions"
	with := func(extra map[string]string) map[string]string {
		h := bearer(testKey)
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	big := `{"model":"local-gpt","messages":[{"role":"user","content":"` + strings.Repeat("a", 8192) + `"}]}`

	tests := []struct {
		name        string
		method, url string
		body        string
		hdr         map[string]string
		status      int
		typ, code   string // "" matches anything
		param       string // checked when not ""
		retryAfter  string
		chunked     bool // send the body with chunked transfer encoding
	}{
		{name: "malformed-json", body: `{"model":"local-gpt","messages":[`, status: 400, typ: "invalid_request_error"},
		{name: "not-an-object", body: `[1,2]`, status: 400, typ: "invalid_request_error"},
		{name: "empty-body", body: ``, status: 400, typ: "invalid_request_error"},
		{name: "missing-model", body: `{"messages":[{"role":"user","content":"hi"}]}`, status: 400, typ: "invalid_request_error", param: "model"},
		{name: "model-not-string", body: `{"model":7,"messages":[{"role":"user","content":"hi"}]}`, status: 400, param: "model"},
		{name: "missing-messages", body: `{"model":"local-gpt"}`, status: 400, typ: "invalid_request_error", param: "messages"},
		{name: "empty-messages", body: `{"model":"local-gpt","messages":[]}`, status: 400, param: "messages"},
		{name: "stream-not-bool", body: `{"model":"local-gpt","messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, status: 400, param: "stream"},
		{name: "body-too-large", body: big, status: 413, code: "request_too_large"},
		{name: "body-too-large/chunked", body: big, chunked: true, status: 413, code: "request_too_large"},
		{name: "body-chunked-ok", body: chatBody("local-gpt", false), chunked: true, status: 200},
		{name: "unknown-model", body: chatBody("no-such-model", false), status: 404, code: "model_not_found"},
		{name: "wrong-method", method: http.MethodGet, status: 405, code: "method_not_allowed"},
		{name: "unknown-path", url: base + "/v1/nothing-here", body: chatBody("local-gpt", false), status: 404, code: "not_found"},
		{name: "missing-key", body: chatBody("local-gpt", false), hdr: map[string]string{}, status: 401, code: "invalid_api_key"},
		{name: "wrong-key", body: chatBody("local-gpt", false), hdr: bearer("not-the-key"), status: 401, code: "invalid_api_key"},
		{name: "wrong-x-api-key", body: chatBody("local-gpt", false), hdr: map[string]string{"x-api-key": "nope"}, status: 401, code: "invalid_api_key"},
		{name: "wrong-query-key", url: chat + "?key=nope", body: chatBody("local-gpt", false), hdr: map[string]string{}, status: 401, code: "invalid_api_key"},
		{name: "x-api-key", body: chatBody("local-gpt", false), hdr: map[string]string{"x-api-key": testKey}, status: 200},
		{name: "x-goog-api-key", body: chatBody("local-gpt", false), hdr: map[string]string{"x-goog-api-key": testKey}, status: 200},
		// ?key= is a Gemini form only: a key in a URL elsewhere is refused.
		{name: "query-key-off-gemini", url: chat + "?key=" + testKey, body: chatBody("local-gpt", false), hdr: map[string]string{}, status: 401, code: "invalid_api_key"},
		{name: "upstream-unreachable", body: chatBody("dead-model", false), status: 502, typ: "server_error"},
		{name: "upstream-unreachable/stream", body: chatBody("dead-model", true), status: 502, typ: "server_error"},
		{name: "upstream-timeout", body: chatBody("slow-model", false), hdr: with(map[string]string{mock.HeaderStall: "2s"}), status: 504, code: "timeout"},
		{name: "upstream-timeout/stream", body: chatBody("slow-model", true), hdr: with(map[string]string{mock.HeaderStall: "2s"}), status: 504, code: "timeout"},
		{name: "upstream-500", body: chatBody("remote-gpt", false), hdr: with(map[string]string{mock.HeaderStatus: "500"}), status: 500, typ: "server_error"},
		{name: "upstream-500/stream", body: chatBody("remote-gpt", true), hdr: with(map[string]string{mock.HeaderStatus: "500"}), status: 500, typ: "server_error"},
		{name: "upstream-503", body: chatBody("remote-gpt", false), hdr: with(map[string]string{mock.HeaderStatus: "503"}), status: 503},
		{name: "upstream-429", body: chatBody("scripted-model", false), hdr: with(map[string]string{"X-Test-Answer": "429"}), status: 429, code: "rate_limit_exceeded", retryAfter: "7"},
		{name: "upstream-429/stream", body: chatBody("scripted-stream-model", true), hdr: with(map[string]string{"X-Test-Answer": "429"}), status: 429, code: "rate_limit_exceeded", retryAfter: "7"},
		{name: "upstream-html-error", body: chatBody("scripted-html-model", false), hdr: with(map[string]string{"X-Test-Answer": "html"}), status: 502, code: "bad_gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, url, hdr := tc.method, tc.url, tc.hdr
			if method == "" {
				method = http.MethodPost
			}
			if url == "" {
				url = chat
			}
			if hdr == nil {
				hdr = bearer(testKey)
			}
			var resp *http.Response
			var b []byte
			if tc.chunked {
				resp, b = doChunked(t, hc, url, tc.body, hdr)
			} else {
				resp, b = do(t, hc, method, url, tc.body, hdr)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, b)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if tc.status == 200 {
				if v, err := fastjson.ParseBytes(b); err != nil || string(v.GetStringBytes("choices", "0", "message", "content")) != mock.Text(3) {
					t.Fatalf("success body %s (%v)", b, err)
				}
			} else {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Fatalf("error Content-Type %q", ct)
				}
				typ, code, msg := openAIError(t, b)
				if tc.typ != "" && typ != tc.typ {
					t.Fatalf("error type %q, want %q: %s", typ, tc.typ, b)
				}
				if tc.code != "" && code != tc.code {
					t.Fatalf("error code %q, want %q: %s", code, tc.code, b)
				}
				if msg == "" {
					t.Fatalf("empty error message: %s", b)
				}
				if tc.param != "" {
					v, _ := fastjson.ParseBytes(b)
					if p := string(v.GetStringBytes("error", "param")); p != tc.param {
						t.Fatalf("param %q, want %q: %s", p, tc.param, b)
					}
				}
			}
			// The server must still serve.
			resp, b = do(t, hc, http.MethodPost, chat, chatBody("local-gpt", false), bearer(testKey))
			if resp.StatusCode != 200 {
				t.Fatalf("good request after %s: %d %s", tc.name, resp.StatusCode, b)
			}
		})
	}
}

// doChunked posts body with chunked transfer encoding (no Content-Length).
func doChunked(t *testing.T, c *http.Client, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.TransferEncoding = []string{"chunked"}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("chunked POST: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
