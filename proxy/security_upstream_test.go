package proxy

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/proxy/config"
)

// suVendor is an upstream that refuses requests the way the real APIs do:
// a foreign OpenAI-Organization (mismatched_organization), a browser Origin
// (Anthropic's CORS refusal), a model the key may not use (a 401 that is not
// about the key) and a revoked key (invalid_api_key). It records which key
// each request carried and which client headers reached it.
type suVendor struct {
	mu     sync.Mutex
	keys   []string
	leaked []string
	stall  time.Duration
}

const suRevoked = "su-revoked-key"

func (v *suVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	v.mu.Lock()
	v.keys = append(v.keys, key)
	for _, h := range []string{"OpenAI-Organization", "OpenAI-Project", "Origin", "X-Goog-User-Project", "Referer"} {
		if r.Header.Get(h) != "" {
			v.leaked = append(v.leaked, h)
		}
	}
	v.mu.Unlock()
	body := make([]byte, 4096)
	n, _ := r.Body.Read(body)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case key == suRevoked:
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided: su-re***key.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`))
	case r.Header.Get("OpenAI-Organization") != "":
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"error":{"message":"OpenAI-Organization header should match organization for API key","type":"invalid_request_error","param":null,"code":"mismatched_organization"}}`))
	case r.Header.Get("Origin") != "":
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"error":{"message":"CORS requests are not allowed for this key","type":"invalid_request_error","code":null}}`))
	case strings.Contains(string(body[:n]), `"model":"su-restricted"`):
		w.WriteHeader(401)
		_, _ = w.Write([]byte(`{"error":{"message":"You have insufficient permissions for this operation. Missing scopes: model.request.","type":"invalid_request_error","code":null}}`))
	case strings.Contains(string(body[:n]), `"model":"su-slow"`):
		time.Sleep(v.stall)
		fallthrough
	default:
		_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}
}

func (v *suVendor) seen() (keys, leaked []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.keys...), append([]string(nil), v.leaked...)
}

func suConfig(base string, keys ...string) *config.Config {
	p := openaiProvider("su", base, "su-model", "su-restricted", "su-slow")
	p.APIKeys = keys
	cfg := baseConfig(p)
	cfg.Retry = config.Retry{MaxAttempts: 3, PerTarget: 2, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxTotal: 10 * time.Second}
	return cfg
}

func suStates(srv *Server, name string) []keypool.KeyState {
	return srv.current().ups[name].pool.Snapshot()
}

func suRequireHealthy(t *testing.T, srv *Server, name string, n int) {
	t.Helper()
	healthy := 0
	for _, k := range suStates(srv, name) {
		if k.State == keypool.Healthy {
			healthy++
		}
	}
	if healthy != n {
		t.Fatalf("%d healthy keys, want %d: %+v", healthy, n, suStates(srv, name))
	}
}

// TestClientHeadersCannotDisableKeys: scoping and browser headers a client
// sends never reach the upstream, so they cannot make it answer 401 and
// take the operator's keys out of service for every other client.
func TestClientHeadersCannotDisableKeys(t *testing.T) {
	v := &suVendor{}
	base := startUpstream(t, v)
	srv, url := startFaultProxy(t, suConfig(base, "su-k1", "su-k2", "su-k3"))
	hc := httpClient(t)
	for _, h := range []map[string]string{
		{"OpenAI-Organization": "org-attacker"},
		{"OpenAI-Project": "proj-attacker"},
		{"Origin": "https://evil.example"},
		{"X-Goog-User-Project": "other-project", "Referer": "https://evil.example/"},
	} {
		for range 3 {
			r := suChat(t, hc, url, "su-model", h)
			if r.status != 200 {
				t.Fatalf("headers %v: status %d %s", h, r.status, r.raw)
			}
		}
	}
	if _, leaked := v.seen(); len(leaked) > 0 {
		t.Fatalf("client headers reached the upstream: %v", leaked)
	}
	suRequireHealthy(t, srv, "su", 3)
}

// TestRequestFaultIsNotKeyFault: a 401 that does not say the credential is
// bad is the request's own fault: it is relayed, not retried on the other
// keys, and no key is penalised.
func TestRequestFaultIsNotKeyFault(t *testing.T) {
	v := &suVendor{}
	base := startUpstream(t, v)
	srv, url := startFaultProxy(t, suConfig(base, "su-k1", "su-k2", "su-k3"))
	hc := httpClient(t)
	for range 4 {
		r := suChat(t, hc, url, "su-restricted", nil)
		if r.status != 401 || !strings.Contains(r.raw, "insufficient permissions") {
			t.Fatalf("status %d %s, want the upstream's 401 relayed", r.status, r.raw)
		}
	}
	if keys, _ := v.seen(); len(keys) != 4 {
		t.Fatalf("upstream saw %d requests for 4 client requests: %v", len(keys), keys)
	}
	suRequireHealthy(t, srv, "su", 3)
	if r := suChat(t, hc, url, "su-model", nil); r.status != 200 {
		t.Fatalf("after the refusals: %d %s", r.status, r.raw)
	}
}

// TestRevokedKeyIsSkippedAndComesBack: a key the upstream says is revoked
// is taken out (the request retried on another key at no cost to its
// attempts), and a reload puts it back on trial.
func TestRevokedKeyIsSkippedAndComesBack(t *testing.T) {
	v := &suVendor{}
	base := startUpstream(t, v)
	cfg := suConfig(base, suRevoked, "su-k2")
	srv, url := startFaultProxy(t, cfg)
	hc := httpClient(t)
	for i := range 10 {
		if r := suChat(t, hc, url, "su-model", nil); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
	keys, _ := v.seen()
	if n := strings.Count(strings.Join(keys, ","), suRevoked); n != 1 {
		t.Fatalf("the revoked key was sent %d times, want once: %v", n, keys)
	}
	if st := suStates(srv, "su")[0]; st.State != keypool.Disabled || st.DisabledUntil.IsZero() {
		t.Fatalf("revoked key state %+v", st)
	}
	next, err := config.FromStruct(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	suRequireHealthy(t, srv, "su", 2)
}

// TestPoolReachesTheGoodKey: keys that are rate limited, failing, revoked
// and one good key: with the default budget every request still gets its
// answer from the good key.
func TestPoolReachesTheGoodKey(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") {
		case "su-429":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`))
		case "su-500":
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"error":{"message":"The server had an error","type":"server_error"}}`))
		case suRevoked:
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`))
		default:
			_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`))
		}
	})
	base := startUpstream(t, up)
	cfg := suConfig(base, "su-429", "su-500", suRevoked, "su-good")
	cfg.Retry = config.Retry{} // the shipped defaults
	_, url := startFaultProxy(t, cfg)
	hc := httpClient(t)
	for i := range 40 {
		if r := suChat(t, hc, url, "su-model", nil); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
}

// TestLongGenerationsDoNotOpenTheBreaker: non-stream requests that outlast
// the first-byte timeout are the client's choice of a long answer; they
// must not open the provider's breaker for everyone else.
func TestLongGenerationsDoNotOpenTheBreaker(t *testing.T) {
	v := &suVendor{stall: 400 * time.Millisecond}
	base := startUpstream(t, v)
	cfg := suConfig(base, "su-k1")
	p := &cfg.Providers[0]
	p.FirstByteTimeout = 100 * time.Millisecond
	p.Breaker = config.Breaker{ConsecutiveFailures: 2, MinRequests: 1000, OpenFor: time.Minute}
	cfg.Retry = config.Retry{MaxAttempts: 1, PerTarget: 1, MaxTotal: 5 * time.Second}
	_, url := startFaultProxy(t, cfg)
	hc := httpClient(t)
	for range 3 {
		if r := suChat(t, hc, url, "su-slow", nil); r.status != 504 {
			t.Fatalf("slow request: %d %s, want 504", r.status, r.raw)
		}
	}
	if r := suChat(t, hc, url, "su-model", nil); r.status != 200 {
		t.Fatalf("after long generations the provider refuses: %d %s", r.status, r.raw)
	}
}

func suChat(t *testing.T, hc *http.Client, base, model string, hdr map[string]string) chatResult {
	t.Helper()
	h := bearer(testKey)
	for k, v := range hdr {
		h[k] = v
	}
	resp, b := do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody(model, false), h)
	return chatResult{status: resp.StatusCode, raw: string(b)}
}

// TestUpstreamAnswersAreBounded: a whole answer larger than the provider's
// max_response_bytes fails as a bad gateway instead of being buffered, and
// one that trickles on past max_response_time is cut.
func TestUpstreamAnswersAreBounded(t *testing.T) {
	big := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Test-Answer") == "trickle" {
			for i := 0; i < 100; i++ {
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
			}
			return
		}
		chunk := []byte(strings.Repeat("x", 1<<20))
		for i := 0; i < 64; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	p := openaiProvider("big", big, "su-model")
	p.MaxResponseBytes = 1 << 20
	p.MaxResponseTime = 500 * time.Millisecond
	cfg := baseConfig(p)
	cfg.Retry = config.Retry{MaxAttempts: 1, PerTarget: 1, MaxTotal: 10 * time.Second}
	_, url := startFaultProxy(t, cfg)
	hc := httpClient(t)
	r := suChat(t, hc, url, "su-model", nil)
	if r.status != 502 || !strings.Contains(r.raw, "max_response_bytes") {
		t.Fatalf("64 MiB answer: %d %.200s, want 502", r.status, r.raw)
	}
	start := time.Now()
	r = suChat(t, hc, url, "su-model", map[string]string{"X-Test-Answer": "trickle"})
	if r.status != 504 || time.Since(start) > 3*time.Second {
		t.Fatalf("trickling answer: %d after %v: %.200s, want 504 within the bound", r.status, time.Since(start), r.raw)
	}
}

// TestNoRetryForADepartedClient: a client that leaves while a non-stream
// attempt runs is not retried for once that attempt fails.
func TestNoRetryForADepartedClient(t *testing.T) {
	var calls atomic.Int32
	arrived := make(chan struct{}, 4)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		arrived <- struct{}{}
		time.Sleep(600 * time.Millisecond) // generating, then failing
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"error":{"message":"The server had an error","type":"server_error"}}`))
	}))
	p := openaiProvider("a", up, "su-model")
	p.APIKeys = []string{"k1", "k2", "k3"}
	cfg := baseConfig(p)
	cfg.Retry = config.Retry{MaxAttempts: 3, PerTarget: 3, BaseBackoff: time.Millisecond, MaxTotal: 10 * time.Second}
	srv, base := startFaultProxy(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	body := chatBody("su-model", false)
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testKey, len(body), body)
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no upstream request")
	}
	_ = c.Close()
	waitIdle(t, srv, httpClient(t))
	if n := calls.Load(); n != 1 {
		t.Fatalf("upstream called %d times for a client that had left", n)
	}
}
