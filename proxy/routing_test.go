package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/valyala/fastjson"
)

// recorded is what a recording upstream saw of one request.
type recorded struct {
	path   string
	header http.Header
	body   []byte
}

// startRecorder runs an upstream that records every request and answers
// with a mock completion for the model named in the body. It returns its
// root URL (no /v1) and the records.
func startRecorder(t *testing.T) (string, <-chan recorded) {
	t.Helper()
	recs := make(chan recorded, 64)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		recs <- recorded{path: r.URL.Path, header: r.Header.Clone(), body: b}
		v, err := fastjson.ParseBytes(b)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a := mock.Answer{Model: string(v.GetStringBytes("model")), Tokens: 2}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.AppendCompletion(nil))
	}))
	return strings.TrimSuffix(up, "/v1"), recs
}

// TestRouting checks which provider serves each request, the model name the
// upstream sees, and that the client's credentials never travel upstream.
func TestRouting(t *testing.T) {
	root, recs := startRecorder(t)
	alpha := openaiProvider("alpha", root+"/alpha/v1", "gpt-a", "shared")
	alpha.APIKeys = []string{"alpha-key"}
	beta := openaiProvider("beta", root+"/beta/v1", "gpt-b", "shared")
	beta.APIKeys = []string{"", "beta-key"}
	wild := openaiProvider("wild", root+"/wild/v1", "*")
	wild.APIKeys = []string{"wild-key"}
	_, base := startProxy(t, baseConfig(alpha, beta, mockProvider("local", 2, "local-gpt"), wild))
	hc := httpClient(t)

	tests := []struct {
		name      string
		path      string // default /v1/chat/completions
		model     string
		provider  string // Model-Provider header
		status    int
		code      string
		upPath    string // "" when no upstream request is expected
		upModel   string // model in the upstream body; "" keeps the client's body
		upKey     string
		respModel string
	}{
		{name: "listed", model: "gpt-a", status: 200, upPath: "/alpha/v1/chat/completions", upKey: "alpha-key"},
		{name: "first-provider-wins", model: "shared", status: 200, upPath: "/alpha/v1/chat/completions", upKey: "alpha-key"},
		{name: "header", model: "shared", provider: "beta", status: 200, upPath: "/beta/v1/chat/completions", upKey: "beta-key"},
		{name: "path-prefix", path: "/beta/v1/chat/completions", model: "shared", status: 200, upPath: "/beta/v1/chat/completions", upKey: "beta-key"},
		{name: "prefixed-name", model: "beta:gpt-b", status: 200, upPath: "/beta/v1/chat/completions", upModel: "gpt-b", upKey: "beta-key"},
		{name: "prefixed-name-shared", model: "beta:shared", status: 200, upPath: "/beta/v1/chat/completions", upModel: "shared", upKey: "beta-key"},
		{name: "prefixed-name-not-served", model: "alpha:gpt-b", status: 404, code: "model_not_found"},
		{name: "header-model-not-served", model: "gpt-a", provider: "beta", status: 404, code: "model_not_found"},
		{name: "colon-in-model-name", model: "llama3:8b", status: 200, upPath: "/wild/v1/chat/completions", upKey: "wild-key"},
		{name: "wildcard", model: "unlisted-model", status: 200, upPath: "/wild/v1/chat/completions", upKey: "wild-key"},
		{name: "in-process", model: "local-gpt", status: 200},
		{name: "in-process-by-header", model: "local-gpt", provider: "local", status: 200},
		{name: "unknown-provider-header", model: "gpt-a", provider: "nope", status: 404, code: "not_found"},
		{name: "unknown-provider-path", path: "/nope/v1/chat/completions", model: "gpt-a", status: 404, code: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v1/chat/completions"
			}
			hdr := bearer(testKey)
			if tc.provider != "" {
				hdr[HeaderModelProvider] = tc.provider
			}
			body := chatBody(tc.model, false)
			resp, b := do(t, hc, http.MethodPost, base+path, body, hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.status != 200 {
				if _, code, _ := openAIError(t, b); code != tc.code {
					t.Fatalf("code %q, want %q: %s", code, tc.code, b)
				}
			}
			if tc.upPath == "" {
				select {
				case r := <-recs:
					t.Fatalf("unexpected upstream request to %s", r.path)
				default:
				}
				return
			}
			var r recorded
			select {
			case r = <-recs:
			case <-time.After(5 * time.Second):
				t.Fatal("no upstream request recorded")
			}
			if r.path != tc.upPath {
				t.Fatalf("upstream path %q, want %q", r.path, tc.upPath)
			}
			if tc.upModel == "" {
				if string(r.body) != body {
					t.Fatalf("body changed without a rewrite:\n got %s\nwant %s", r.body, body)
				}
			} else {
				v, err := fastjson.ParseBytes(r.body)
				if err != nil {
					t.Fatalf("rewritten body is not JSON: %v: %s", err, r.body)
				}
				if m := string(v.GetStringBytes("model")); m != tc.upModel {
					t.Fatalf("upstream model %q, want %q", m, tc.upModel)
				}
				if len(v.GetArray("messages")) != 1 {
					t.Fatalf("rewrite lost the messages: %s", r.body)
				}
			}
			if got := r.header.Get("Authorization"); got != "Bearer "+tc.upKey {
				t.Fatalf("upstream Authorization %q, want Bearer %s", got, tc.upKey)
			}
			checkNoClientSecrets(t, r.header)
			if r.header.Get("X-Request-Id") != resp.Header.Get("X-Request-Id") || r.header.Get("X-Request-Id") == "" {
				t.Fatalf("X-Request-Id upstream %q, to the client %q", r.header.Get("X-Request-Id"), resp.Header.Get("X-Request-Id"))
			}
			if v, err := fastjson.ParseBytes(b); err != nil || len(v.GetStringBytes("choices", "0", "message", "content")) == 0 {
				t.Fatalf("answer not relayed: %s", b)
			}
		})
	}
}

// checkNoClientSecrets fails if the client's key or the proxy's routing
// header reached the upstream.
func checkNoClientSecrets(t *testing.T, h http.Header) {
	t.Helper()
	for k, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, testKey) {
				t.Fatalf("client key sent upstream in %s: %q", k, v)
			}
		}
	}
	for _, k := range []string{"X-Api-Key", "X-Goog-Api-Key", HeaderModelProvider} {
		if v := h.Get(k); v != "" {
			t.Fatalf("%s sent upstream: %q", k, v)
		}
	}
}

// TestHopByHopHeaders sends a request with hop-by-hop, credential and
// end-to-end headers over a raw connection (so that no client library adds or
// drops any) and checks which of them the upstream receives.
func TestHopByHopHeaders(t *testing.T) {
	root, recs := startRecorder(t)
	_, base := startProxy(t, baseConfig(openaiProvider("up", root+"/v1", "gpt-a")))
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := chatBody("gpt-a", false)
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"+
		"Authorization: Bearer %[1]s\r\nX-Api-Key: %[1]s\r\nX-Goog-Api-Key: %[1]s\r\n"+
		"Connection: keep-alive, X-Hop-Secret\r\nX-Hop-Secret: s\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic c2VjcmV0\r\n"+
		"Proxy-Connection: keep-alive\r\nTe: trailers\r\nTrailer: X-Checksum\r\nUpgrade: websocket\r\n"+
		"Cookie: session=secret\r\nX-Custom-Trace: trace-123\r\nOpenAI-Organization: org-1\r\n"+
		"Content-Type: application/json\r\nContent-Length: %[2]d\r\n\r\n%[3]s", testKey, len(body), body)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var r recorded
	select {
	case r = <-recs:
	case <-time.After(5 * time.Second):
		t.Fatal("no upstream request")
	}
	checkNoClientSecrets(t, r.header)
	for _, k := range []string{"X-Hop-Secret", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Cookie"} {
		if v := r.header.Get(k); v != "" {
			t.Errorf("hop-by-hop or credential header %s sent upstream: %q", k, v)
		}
	}
	if c := r.header.Get("Connection"); c != "" && !strings.EqualFold(c, "keep-alive") && !strings.EqualFold(c, "close") {
		t.Errorf("client's Connection header relayed upstream: %q", c)
	}
	if r.header.Get("Authorization") != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization %q", r.header.Get("Authorization"))
	}
	// X-Custom-Trace is in the provider's forward_headers; a client's
	// scoping header never goes upstream (it could make the key answer 401).
	for k, want := range map[string]string{"X-Custom-Trace": "trace-123", "Openai-Organization": ""} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q upstream, want %q", k, got, want)
		}
	}
}
