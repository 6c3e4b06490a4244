package proxy

// Tests of the exact response cache through the real proxy on loopback,
// against the standalone mock upstream, which counts the calls that reach
// it.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/mock"
	"github.com/llmproxy/proxy/providers/mock/mocktest"
	"github.com/llmproxy/proxy/proxy/cache"
	"github.com/llmproxy/proxy/proxy/cache/redistest"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/stream"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// cacheRig is a proxy with the response cache on for provider "up" (the
// mock upstream, model mock-gpt) and a count of the upstream's calls.
type cacheRig struct {
	t     *testing.T
	srv   *Server
	base  string
	hc    *http.Client
	calls *atomic.Int64
}

func startCacheUpstream(t *testing.T) (string, *atomic.Int64) {
	calls := new(atomic.Int64)
	url := mocktest.Start(t, mock.ServerOptions{
		Behaviour: mock.Behaviour{Tokens: 6},
		OnRequest: func(string, []byte) { calls.Add(1) },
	})
	return url, calls
}

func startCacheRig(t *testing.T, upstream string, calls *atomic.Int64, edit func(*config.Config)) *cacheRig {
	t.Helper()
	cfg := baseConfig(openaiProvider("up", upstream, "mock-gpt"))
	cfg.Clients = []config.Client{{Name: "limited", Key: "limited-key", Models: []string{"other"}}}
	cfg.Cache.Targets = []config.CacheTarget{{Provider: "up"}}
	if edit != nil {
		edit(cfg)
	}
	full, err := config.FromStruct(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, base := startProxy(t, full)
	return &cacheRig{t: t, srv: srv, base: base, hc: httpClient(t), calls: calls}
}

func (r *cacheRig) post(path, body string, hdr map[string]string) (*http.Response, []byte) {
	r.t.Helper()
	h := bearer(testKey)
	for k, v := range hdr {
		h[k] = v
	}
	return do(r.t, r.hc, "POST", r.base+path, body, h)
}

// send posts and checks the status, the X-Proxy-Cache header and whether
// the upstream was called.
func (r *cacheRig) send(path, body string, hdr map[string]string, wantCache string, wantUpstream bool) []byte {
	r.t.Helper()
	before := r.calls.Load()
	resp, b := r.post(path, body, hdr)
	if resp.StatusCode != 200 {
		r.t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get(HeaderCache); got != wantCache {
		r.t.Fatalf("%s = %q, want %q", HeaderCache, got, wantCache)
	}
	if called := r.calls.Load() > before; called != wantUpstream {
		r.t.Fatalf("upstream called = %v, want %v", called, wantUpstream)
	}
	return b
}

func (r *cacheRig) metric(series string) int {
	r.t.Helper()
	_, b := do(r.t, r.hc, "GET", r.base+"/metrics", "", nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func greedyChat(text string, stream bool) string {
	s := `{"model":"mock-gpt","temperature":0,"messages":[{"role":"user","content":"` + text + `"}]`
	if stream {
		s += `,"stream":true`
	}
	return s + "}"
}

const tokensOut = `proxy_tokens_total{provider="up",model="mock-gpt",direction="output"}`

func TestCacheHitMissAndMetrics(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, nil)
	first := r.send("/v1/chat/completions", greedyChat("hello", false), nil, "miss", true)
	tokens := r.metric(tokensOut)
	if tokens == 0 {
		t.Fatal("the upstream answer's tokens were not counted")
	}
	hit := r.send("/v1/chat/completions", greedyChat("hello", false), nil, "hit", false)
	if !bytes.Equal(hit, first) {
		t.Fatalf("hit body differs:\n%s\n%s", hit, first)
	}
	// What the key leaves out: stream:false, user, metadata, member order, spacing.
	r.send("/v1/chat/completions", `{ "messages":[{"role":"user","content":"hello"}], "user":"u-9", "metadata":{"a":"b"},
		"model":"mock-gpt", "temperature":0, "stream":false }`, nil, "hit", false)
	// What it keeps: the messages, other parameters, the ingress protocol.
	r.send("/v1/chat/completions", greedyChat("hello again", false), nil, "miss", true)
	r.send("/v1/chat/completions", `{"model":"mock-gpt","temperature":0,"max_tokens":7,"messages":[{"role":"user","content":"hello"}]}`, nil, "miss", true)
	r.send("/v1/messages", `{"model":"mock-gpt","temperature":0,"max_tokens":50,"messages":[{"role":"user","content":"hello"}]}`, nil, "miss", true)
	r.send("/v1/messages", `{"model":"mock-gpt","temperature":0,"max_tokens":50,"messages":[{"role":"user","content":"hello"}]}`, nil, "hit", false)
	// The Model-Provider header names the same provider: the same key.
	r.send("/v1/chat/completions", greedyChat("hello", false), map[string]string{HeaderModelProvider: "up"}, "hit", false)

	if got := r.metric(tokensOut); got != tokens*4 {
		// Four upstream answers of the same length were generated; hits add none.
		t.Fatalf("tokens after hits = %d, want %d (4 upstream answers)", got, tokens*4)
	}
	if got := r.metric(`proxy_cache_lookups_total{provider="up",model="mock-gpt",result="hit"}`); got != 4 {
		t.Fatalf("hits counted = %d, want 4", got)
	}
	if got := r.metric(`proxy_cache_lookups_total{provider="up",model="mock-gpt",result="miss"}`); got != 4 {
		t.Fatalf("misses counted = %d, want 4", got)
	}
	if got := r.metric(`proxy_cache_entries`); got != 4 {
		t.Fatalf("proxy_cache_entries = %d, want 4", got)
	}
	// A client that may not use the model gets no cached answer either.
	resp, b := do(t, r.hc, "POST", r.base+"/v1/chat/completions", greedyChat("hello", false), bearer("limited-key"))
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(HeaderCache) != "" {
		t.Fatalf("limited client: status %d, %s %q: %s", resp.StatusCode, HeaderCache, resp.Header.Get(HeaderCache), b)
	}
}

func TestCacheOnlyListedTargetsAreCached(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Providers[0].Models = []string{"mock-gpt", "mock-other"}
		c.Cache.Targets = []config.CacheTarget{{Provider: "up", Models: []string{"mock-gpt"}}}
	})
	other := strings.Replace(greedyChat("x", false), "mock-gpt", "mock-other", 1)
	for range 2 {
		resp, b := r.post("/v1/chat/completions", other, nil)
		if resp.StatusCode != 200 || resp.Header.Get(HeaderCache) != "" {
			t.Fatalf("uncached model: status %d, %s %q: %s", resp.StatusCode, HeaderCache, resp.Header.Get(HeaderCache), b)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("upstream calls = %d, want 2", calls.Load())
	}
	r.send("/v1/chat/completions", greedyChat("x", false), nil, "miss", true)
	r.send("/v1/chat/completions", greedyChat("x", false), nil, "hit", false)
}

func TestCacheExpiry(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) { c.Cache.TTL = time.Minute })
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	r.srv.current().cache.store.(*cache.Memory).SetClock(func() time.Time { return time.Unix(0, clock.Load()) })
	r.send("/v1/chat/completions", greedyChat("e", false), nil, "miss", true)
	clock.Store(now.Add(59 * time.Second).UnixNano())
	r.send("/v1/chat/completions", greedyChat("e", false), nil, "hit", false)
	clock.Store(now.Add(61 * time.Second).UnixNano())
	r.send("/v1/chat/completions", greedyChat("e", false), nil, "miss", true)
	r.send("/v1/chat/completions", greedyChat("e", false), nil, "hit", false)
}

func TestCacheEvictionUnderTheSizeBound(t *testing.T) {
	up, calls := startCacheUpstream(t)
	// Measure one entry, then allow two and a half of them.
	probe := startCacheRig(t, up, calls, nil)
	probe.send("/v1/chat/completions", greedyChat("a", false), nil, "miss", true)
	size := probe.srv.current().cache.store.Stats().Bytes
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Cache.MaxBytes = size*5/2 + 8
		c.Cache.MaxEntryBytes = int(size)
	})
	r.send("/v1/chat/completions", greedyChat("a", false), nil, "miss", true)
	r.send("/v1/chat/completions", greedyChat("b", false), nil, "miss", true)
	r.send("/v1/chat/completions", greedyChat("a", false), nil, "hit", false) // a is now the most recent
	r.send("/v1/chat/completions", greedyChat("c", false), nil, "miss", true) // evicts b
	r.send("/v1/chat/completions", greedyChat("a", false), nil, "hit", false)
	r.send("/v1/chat/completions", greedyChat("c", false), nil, "hit", false)
	st := r.srv.current().cache.store.Stats()
	if st.Evictions != 1 || st.Entries != 2 || st.Bytes > size*5/2+8 {
		t.Fatalf("after one eviction: %+v (bound %d bytes)", st, size*5/2+8)
	}
	r.send("/v1/chat/completions", greedyChat("b", false), nil, "miss", true)
	if got := r.metric(`proxy_cache_evictions_total`); got != 2 {
		t.Fatalf("proxy_cache_evictions_total = %d, want 2", got)
	}
}

func TestCacheControlNoCacheAndNoStore(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, nil)
	body := greedyChat("cc", false)
	r.send("/v1/chat/completions", body, map[string]string{"Cache-Control": "no-store"}, "bypass", true)
	r.send("/v1/chat/completions", body, nil, "miss", true) // no-store stored nothing
	r.send("/v1/chat/completions", body, map[string]string{"Cache-Control": "no-cache"}, "bypass", true)
	r.send("/v1/chat/completions", body, map[string]string{"Cache-Control": "max-age=0, No-Store"}, "bypass", true)
	r.send("/v1/chat/completions", body, nil, "hit", false)

	fresh := greedyChat("cc2", false)
	r.send("/v1/chat/completions", fresh, map[string]string{"Cache-Control": "no-cache"}, "bypass", true)
	r.send("/v1/chat/completions", fresh, nil, "hit", false) // no-cache still stored its answer
	if got := r.metric(`proxy_cache_lookups_total{provider="up",model="mock-gpt",result="bypass"}`); got != 4 {
		t.Fatalf("bypasses counted = %d, want 4", got)
	}
}

func TestCacheTemperatureRule(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Providers = append(c.Providers, openaiProvider("warm", up, "warm-gpt"))
		allow := true
		c.Cache.Targets = append(c.Cache.Targets, config.CacheTarget{Provider: "warm", AllowTemperature: &allow})
	})
	sampled := []string{
		`{"model":"mock-gpt","temperature":0.7,"messages":[{"role":"user","content":"t"}]}`,
		`{"model":"mock-gpt","messages":[{"role":"user","content":"t"}]}`, // the default is 1
	}
	for _, b := range sampled {
		r.send("/v1/chat/completions", b, nil, "bypass", true)
		r.send("/v1/chat/completions", b, nil, "bypass", true)
	}
	gem := `{"contents":[{"role":"user","parts":[{"text":"t"}]}],"generationConfig":{"temperature":0}}`
	r.send("/v1beta/models/mock-gpt:generateContent", gem, nil, "miss", true)
	r.send("/v1beta/models/mock-gpt:generateContent", gem, nil, "hit", false)
	r.send("/v1beta/models/mock-gpt:generateContent", strings.Replace(gem, `"temperature":0`, `"temperature":1`, 1), nil, "bypass", true)
	// The operator allowed sampled answers for provider warm.
	warm := `{"model":"warm-gpt","temperature":0.7,"messages":[{"role":"user","content":"t"}]}`
	r.send("/v1/chat/completions", warm, nil, "miss", true)
	r.send("/v1/chat/completions", warm, nil, "hit", false)
	// State kept upstream is never cached (this upstream even refuses it).
	resp, b := r.post("/v1/responses", `{"model":"mock-gpt","temperature":0,"input":"t","previous_response_id":"resp_1"}`, nil)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get(HeaderCache) != "bypass" {
		t.Fatalf("previous_response_id: status %d, %s %q: %s", resp.StatusCode, HeaderCache, resp.Header.Get(HeaderCache), b)
	}
}

// sseEvents splits an SSE body into its events.
func sseEvents(b []byte) []string {
	var out []string
	for _, ev := range strings.Split(string(b), "\n\n") {
		if strings.TrimSpace(ev) != "" {
			out = append(out, ev)
		}
	}
	return out
}

func TestCacheStreamReplayedEventByEvent(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Cache.Targets = []config.CacheTarget{{Provider: "up", Models: []string{"mock-gpt"}, Replay: config.ReplayPaced}}
	})
	tests := []struct {
		name, path, body string
		first, last      string // the first and the terminating event
	}{
		{name: "chat", path: "/v1/chat/completions", body: greedyChat("s", true), first: `"role":"assistant"`, last: "data: [DONE]"},
		{name: "anthropic-converted", path: "/v1/messages",
			body:  `{"model":"mock-gpt","temperature":0,"max_tokens":64,"stream":true,"messages":[{"role":"user","content":"s"}]}`,
			first: "event: message_start", last: "event: message_stop"},
		{name: "gemini-array", path: "/v1beta/models/mock-gpt:streamGenerateContent",
			body:  `{"contents":[{"role":"user","parts":[{"text":"s"}]}],"generationConfig":{"temperature":0}}`,
			first: "[", last: "]"},
	}
	delay := map[string]string{mock.HeaderDelay: "40ms"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			miss := r.send(tc.path, tc.body, delay, "miss", true)
			start := time.Now()
			resp, hit := r.post(tc.path, tc.body, delay)
			took := time.Since(start)
			if resp.StatusCode != 200 || resp.Header.Get(HeaderCache) != "hit" {
				t.Fatalf("replay: status %d, %s %q: %s", resp.StatusCode, HeaderCache, resp.Header.Get(HeaderCache), hit)
			}
			if !bytes.Equal(hit, miss) {
				t.Fatalf("replayed stream differs from the original:\n%s\n---\n%s", hit, miss)
			}
			if tc.name == "gemini-array" {
				s := strings.TrimSpace(string(hit))
				if !strings.HasPrefix(s, tc.first) || !strings.HasSuffix(s, tc.last) || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("JSON array stream: %s (%s)", s, resp.Header.Get("Content-Type"))
				}
			} else {
				evs := sseEvents(hit)
				if len(evs) < 4 || !strings.Contains(evs[0], tc.first) || !strings.HasPrefix(evs[len(evs)-1], tc.last) {
					t.Fatalf("events out of order or unterminated: %q", evs)
				}
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
					t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
				}
			}
			// Paced: the replay keeps the upstream's 40 ms between its
			// six content chunks (a lower bound only).
			if took < 150*time.Millisecond {
				t.Fatalf("paced replay took %v, want at least the recorded gaps (about 200ms)", took)
			}
		})
	}
	// Each replay is one stream in the metrics, none counted upstream.
	if calls.Load() != 3 {
		t.Fatalf("upstream calls = %d, want 3", calls.Load())
	}
}

func TestCacheStoresNoErrorOrBrokenStream(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) { c.Retry.MaxAttempts = 1 })
	for _, tc := range []struct {
		name, path, body string
		hdr              map[string]string
		status           int
	}{
		{"500", "/v1/chat/completions", greedyChat("err", false), map[string]string{mock.HeaderStatus: "500"}, 500},
		{"400", "/v1/chat/completions", greedyChat("err", false), map[string]string{mock.HeaderStatus: "400"}, 400},
		{"truncated-stream", "/v1/chat/completions", greedyChat("cut", true), map[string]string{mock.HeaderTruncate: "2"}, 200},
		{"truncated-converted-stream", "/v1/messages",
			`{"model":"mock-gpt","temperature":0,"max_tokens":64,"stream":true,"messages":[{"role":"user","content":"cut"}]}`,
			map[string]string{mock.HeaderTruncate: "2"}, 200},
	} {
		for i := range 2 {
			before := calls.Load()
			req, _ := http.NewRequest("POST", r.base+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := r.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			// A pass-through stream of known length that breaks is cut
			// short, which the client sees as a read error: expected.
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get(HeaderCache) != "miss" || calls.Load() == before {
				t.Fatalf("%s #%d: status %d, %s %q, upstream called %v: %s", tc.name, i, resp.StatusCode,
					HeaderCache, resp.Header.Get(HeaderCache), calls.Load() > before, b)
			}
			if tc.name == "truncated-converted-stream" && !strings.Contains(string(b), "event: error") {
				t.Fatalf("broken converted stream without its error event: %s", b)
			}
		}
	}
	if n := r.srv.current().cache.store.Stats().Entries; n != 0 {
		t.Fatalf("%d entries stored from failed answers", n)
	}
	// The broken streams' recordings gave their bytes back.
	budget := r.srv.current().cache.recording
	deadline := time.Now().Add(3 * time.Second)
	for budget.Left() != r.srv.current().cfg.Cache.MaxBytes {
		if time.Now().After(deadline) {
			t.Fatalf("recording budget left %d of %d after every stream ended", budget.Left(), r.srv.current().cfg.Cache.MaxBytes)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCacheSharedRedisBetweenTwoProxies(t *testing.T) {
	addr := redistest.Start(t)
	up, calls := startCacheUpstream(t)
	shared := func(c *config.Config) {
		c.Cache.Backend = "redis"
		c.Cache.Redis.Addr = addr
		c.Cache.Redis.Timeout = time.Second
	}
	a := startCacheRig(t, up, calls, shared)
	b := startCacheRig(t, up, calls, shared)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	waitKeys := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := rc.DBSize(context.Background()).Result()
			if err == nil && got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Redis holds %d keys (%v), want %d", got, err, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	plain := a.send("/v1/chat/completions", greedyChat("r", false), nil, "miss", true)
	streamed := a.send("/v1/chat/completions", greedyChat("r", true), nil, "miss", true)
	waitKeys(2)
	if got := b.send("/v1/chat/completions", greedyChat("r", false), nil, "hit", false); !bytes.Equal(got, plain) {
		t.Fatalf("the other instance's hit differs:\n%s\n%s", got, plain)
	}
	if got := b.send("/v1/chat/completions", greedyChat("r", true), nil, "hit", false); !bytes.Equal(got, streamed) {
		t.Fatalf("the other instance's replay differs:\n%s\n%s", got, streamed)
	}
	keys, err := rc.Keys(context.Background(), "proxy:cache:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v, %v: want two under the default prefix", keys, err)
	}
	if ttl := rc.TTL(context.Background(), keys[0]).Val(); ttl <= 0 || ttl > 10*time.Minute {
		t.Fatalf("key TTL %v, want the cache's 10m", ttl)
	}
}

// TestCacheAcrossReloadAndInTheAccessLog: a reload that leaves the cache's
// settings alone keeps its entries; one that changes what the upstream
// would be sent (the system prompt) makes them unreachable; the access
// line names the verdict, streams included.
func TestCacheAcrossReloadAndInTheAccessLog(t *testing.T) {
	up, calls := startCacheUpstream(t)
	core, logs := observer.New(zap.InfoLevel)
	cfg := baseConfig(openaiProvider("up", up, "mock-gpt"))
	cfg.Cache.Targets = []config.CacheTarget{{Provider: "up"}}
	srv, base := startLoggedProxy(t, cfg, zap.New(core))
	r := &cacheRig{t: t, srv: srv, base: base, hc: httpClient(t), calls: calls}
	r.send("/v1/chat/completions", greedyChat("rl", false), nil, "miss", true)
	r.send("/v1/chat/completions", greedyChat("rl", true), nil, "miss", true)
	store := srv.current().cache.store

	same := *srv.current().cfg
	same.Retry.MaxAttempts++ // a change elsewhere
	if err := srv.Reload(&same); err != nil {
		t.Fatal(err)
	}
	if srv.current().cache.store != store {
		t.Fatal("a reload that left the cache's settings alone replaced its store")
	}
	r.send("/v1/chat/completions", greedyChat("rl", false), nil, "hit", false)
	r.send("/v1/chat/completions", greedyChat("rl", true), nil, "hit", false)

	prompt := same
	prompt.SystemPrompt = config.SystemPrompt{File: writePrompt(t, "Answer in French."), Mode: "append"}
	if err := srv.Reload(&prompt); err != nil {
		t.Fatal(err)
	}
	r.send("/v1/chat/completions", greedyChat("rl", false), nil, "miss", true)

	deadline := time.Now().Add(3 * time.Second)
	for {
		var verdicts []string
		for _, e := range logs.FilterMessage("request").All() {
			if v, ok := e.ContextMap()["cache"]; ok {
				verdicts = append(verdicts, v.(string))
			}
		}
		// A stream's line is written when its relay ends: order aside.
		slices.Sort(verdicts)
		if strings.Join(verdicts, ",") == "hit,hit,miss,miss,miss" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access lines' cache verdicts %v, want two hits and three misses", verdicts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writePrompt(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "prompt.txt")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCacheFallbackAnswerNotStored: the answer of a fallback target is
// not the answer to what was asked, so it is not stored under its key.
func TestCacheFallbackAnswerNotStored(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Providers = append(c.Providers, openaiProvider("down", closedPortURL(t), "primary-gpt"))
		c.Fallbacks = map[string][]string{"primary-gpt": {"up/mock-gpt"}}
		c.Cache.Targets = []config.CacheTarget{{Provider: "down"}, {Provider: "up"}}
	})
	body := strings.Replace(greedyChat("fb", false), "mock-gpt", "primary-gpt", 1)
	r.send("/v1/chat/completions", body, nil, "miss", true)
	r.send("/v1/chat/completions", body, nil, "miss", true)
	if n := r.srv.current().cache.store.Stats().Entries; n != 0 {
		t.Fatalf("%d entries stored from a fallback's answers", n)
	}
}

// TestCachePacedReplayEndsWhenTheClientLeaves: a client that hangs up in
// the middle of a paced replay ends it at the next event.
func TestCachePacedReplayEndsWhenTheClientLeaves(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) { c.Cache.Replay = config.ReplayPaced })
	// 12 chunks 400 ms apart: about 5 s to replay whole.
	hdr := map[string]string{mock.HeaderDelay: "400ms", mock.HeaderTokens: "12"}
	body := greedyChat("leave", true)
	r.send("/v1/chat/completions", body, hdr, "miss", true)

	c, err := net.DialTimeout("tcp", strings.TrimPrefix(r.base, "http://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req := "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + testKey +
		"\r\nContent-Type: application/json\r\n" + mock.HeaderDelay + ": 400ms\r\n" + mock.HeaderTokens + ": 12\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the replay: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			break // the first event arrived: hang up
		}
	}
	_ = c.Close()
	// A write or two after the hang-up fails (0.4 to 0.8 s), well
	// before the 4 s the rest of the replay would take.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for r.metric("proxy_active_streams") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the replay still runs 2.5 s after its client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if calls.Load() != 1 {
		t.Fatalf("upstream calls = %d, want 1", calls.Load())
	}
}

// TestCachePacedReplayKeepsHeartbeats: a paced replay fills a gap longer
// than the heartbeat interval with heartbeat comments, as the live relay
// did; the events are the same either way.
func TestCachePacedReplayKeepsHeartbeats(t *testing.T) {
	up, calls := startCacheUpstream(t)
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Cache.Replay = config.ReplayPaced
		c.Server.StreamHeartbeat = 100 * time.Millisecond
	})
	hdr := map[string]string{mock.HeaderDelay: "350ms", mock.HeaderTokens: "3"}
	body := greedyChat("beat", true)
	miss := r.send("/v1/chat/completions", body, hdr, "miss", true)
	hit := r.send("/v1/chat/completions", body, hdr, "hit", false)
	if !bytes.Contains(hit, stream.Heartbeat) {
		t.Fatalf("no heartbeat in a paced replay with 350 ms gaps and a 100 ms heartbeat:\n%s", hit)
	}
	events := func(b []byte) []string {
		var out []string
		for _, ev := range sseEvents(b) {
			if !strings.HasPrefix(ev, ":") {
				out = append(out, ev)
			}
		}
		return out
	}
	if got, want := events(hit), events(miss); !slices.Equal(got, want) {
		t.Fatalf("replayed events differ:\n%q\n%q", got, want)
	}
}

// TestCacheRedisDownIsAMiss: an unreachable Redis costs hits, never an
// answer; the failures are counted.
func TestCacheRedisDownIsAMiss(t *testing.T) {
	up, calls := startCacheUpstream(t)
	dead := strings.TrimPrefix(strings.TrimSuffix(closedPortURL(t), "/v1"), "http://")
	r := startCacheRig(t, up, calls, func(c *config.Config) {
		c.Cache.Backend = "redis"
		c.Cache.Redis.Addr = dead
		c.Cache.Redis.Timeout = 200 * time.Millisecond
	})
	r.send("/v1/chat/completions", greedyChat("down", false), nil, "miss", true)
	r.send("/v1/chat/completions", greedyChat("down", false), nil, "miss", true)
	deadline := time.Now().Add(3 * time.Second)
	for r.metric("proxy_cache_errors_total") < 4 { // two reads, two writes
		if time.Now().After(deadline) {
			t.Fatalf("proxy_cache_errors_total = %d, want 4", r.metric("proxy_cache_errors_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
