package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/providers/breaker"
	"github.com/llmproxy/proxy/providers/faults"
	"github.com/llmproxy/proxy/providers/keypool"
	"github.com/llmproxy/proxy/proxy/metrics"
)

// healthDoc is the part of /health these tests read.
type healthDoc struct {
	Status    string `json:"status"`
	Providers []struct {
		Name    string `json:"name"`
		Breaker *struct {
			State string `json:"state"`
		} `json:"breaker"`
		KeyStates []struct {
			Label         string    `json:"label"`
			State         string    `json:"state"`
			CooldownUntil time.Time `json:"cooldown_until"`
		} `json:"key_states"`
	} `json:"providers"`
}

func getHealth(t *testing.T, hc *http.Client, base string) (healthDoc, string) {
	t.Helper()
	_, b := do(t, hc, http.MethodGet, base+"/health", "", nil)
	var h healthDoc
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("health: %v: %s", err, b)
	}
	return h, string(b)
}

// TestKeyRevokedWhileOthersServe: one key answers 401; the request is
// served by another key, the revoked key is shown disabled on /health (by
// label, never by value) and is not used again.
func TestKeyRevokedWhileOthersServe(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{})
	a.Enqueue(faults.Script{Kind: faults.Status, Status: 401})
	srv, base := startFaultProxy(t, faultConfig(faultProvider("a", a.URL(), 3), faultProvider("b", startFaults(t, faults.Script{}).URL(), 1)))
	hc := httpClient(t)
	for i := range 6 {
		if r := chat(t, hc, base, i%2 == 1, nil); r.status != 200 || r.text != faults.Content(3) {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	ks := keysSeen(a)
	revoked := ks[0]
	for _, k := range ks[1:] {
		if k == revoked {
			t.Fatalf("revoked key %s used again: %v", revoked, ks)
		}
	}
	h, raw := getHealth(t, hc, base)
	if strings.Contains(raw, "a-k") {
		t.Fatalf("/health shows a key: %s", raw)
	}
	disabled := 0
	for _, k := range h.Providers[0].KeyStates {
		if k.State == "disabled" {
			disabled++
		}
	}
	if h.Providers[0].Name != "a" || disabled != 1 || len(h.Providers[0].KeyStates) != 3 {
		t.Fatalf("health %s", raw)
	}
	waitIdle(t, srv, hc)
}

// TestAllKeysRateLimited: when every key answered 429 and no fallback is
// left, the client gets 429 with the upstream's Retry-After in its own
// protocol, and the next request is answered by the proxy at once from
// the keys' cooldown, without reaching the upstream.
func TestAllKeysRateLimited(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{Kind: faults.Status, Status: 429, RetryAfter: "20"})
	cfg := baseConfig(faultProvider("a", a.URL(), 2))
	srv, base := startFaultProxy(t, cfg)
	hc := httpClient(t)
	r := chat(t, hc, base, false, nil)
	if r.status != 429 || r.retryAfter != "20" || r.errType != "rate_limit_error" || a.Requests() != 2 {
		t.Fatalf("first: %+v after %d upstream requests", r, a.Requests())
	}
	// Anthropic client: its own error shape, Retry-After from the cooldown.
	resp, b := do(t, hc, http.MethodPost, base+"/v1/messages",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
		map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"})
	if resp.StatusCode != 429 || !strings.Contains(string(b), `"type":"error"`) || !strings.Contains(string(b), "rate_limit_error") {
		t.Fatalf("second: %d %s", resp.StatusCode, b)
	}
	if ra := resp.Header.Get("Retry-After"); ra < "20" || len(ra) != 2 {
		t.Fatalf("Retry-After %q, want the cooldown (20-24 s)", ra)
	}
	if a.Requests() != 2 {
		t.Fatalf("the upstream saw %d requests, want 2", a.Requests())
	}
	for _, k := range srv.current().ups["a"].pool.Snapshot() {
		if k.State != keypool.Cooldown || time.Until(k.CooldownUntil) < 15*time.Second {
			t.Fatalf("key %+v", k)
		}
	}
	waitIdle(t, srv, hc)
}

// TestKeyStateMetrics: /metrics shows each provider's keys per state and
// its breaker closed from the start, and a 429 moves the keys to cooldown.
func TestKeyStateMetrics(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{Kind: faults.Status, Status: 429, RetryAfter: "20"})
	srv, base := startFaultProxy(t, baseConfig(faultProvider("a", a.URL(), 2)))
	hc := httpClient(t)
	scrape := func() string {
		_, b := do(t, hc, http.MethodGet, base+"/metrics", "", nil)
		return string(b)
	}
	m := scrape()
	for _, want := range []string{`proxy_keys{provider="a",state="healthy"} 2`, `proxy_keys{provider="a",state="cooldown"} 0`,
		`proxy_keys{provider="a",state="disabled"} 0`, `proxy_breaker_state{provider="a"} 0`, "# TYPE proxy_keys gauge"} {
		if !strings.Contains(m, want) {
			t.Fatalf("before any request, /metrics lacks %s:\n%s", want, grepLines(m, "proxy_keys"))
		}
	}
	if r := chat(t, hc, base, false, nil); r.status != 429 {
		t.Fatalf("status %d", r.status)
	}
	m = scrape()
	if !strings.Contains(m, `proxy_keys{provider="a",state="cooldown"} 2`) || !strings.Contains(m, `proxy_keys{provider="a",state="healthy"} 0`) {
		t.Fatalf("after 429s:\n%s", grepLines(m, "proxy_keys"))
	}
	waitIdle(t, srv, hc)
}

// TestBreakerOpensAndFailsOver: a provider that keeps failing trips its
// breaker; requests then go straight to the fallback without touching it,
// and /health says so.
func TestBreakerOpensAndFailsOver(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{Kind: faults.Status, Status: 502})
	b := startFaults(t, faults.Script{})
	pa := faultProvider("a", a.URL(), 1)
	pa.Breaker.ConsecutiveFailures = 3
	pa.Breaker.OpenFor = time.Minute
	srv, base := startFaultProxy(t, faultConfig(pa, faultProvider("b", b.URL(), 1)))
	hc := httpClient(t)
	for range 2 {
		if r := chat(t, hc, base, false, nil); r.status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	if a.Requests() != 3 {
		t.Fatalf("a saw %d requests before its breaker opened, want 3", a.Requests())
	}
	for range 3 {
		if r := chat(t, hc, base, true, nil); r.status != 200 || !r.done {
			t.Fatalf("%+v", r)
		}
	}
	if a.Requests() != 3 || b.Requests() != 5 {
		t.Fatalf("open breaker: a %d, b %d requests", a.Requests(), b.Requests())
	}
	h, raw := getHealth(t, hc, base)
	if h.Status != "degraded" || h.Providers[0].Breaker == nil || h.Providers[0].Breaker.State != "open" {
		t.Fatalf("health %s", raw)
	}
	_, m := do(t, hc, http.MethodGet, base+"/metrics", "", nil)
	if !strings.Contains(string(m), `proxy_breaker_state{provider="a"} 2`) {
		t.Fatalf("breaker gauge not open in /metrics:\n%s", grepLines(string(m), "breaker"))
	}
	waitIdle(t, srv, hc)
}

// TestOverloadAnsweredAtOnce: beyond the global stream bound and a
// provider's queue, clients get 503 or 429 with Retry-After at once, in
// their protocol, while the admitted stream is unaffected.
func TestOverloadAnsweredAtOnce(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{Kind: faults.Slow, Chunks: 4, Gap: 100 * time.Millisecond})
	pa := faultProvider("a", a.URL(), 1)
	pa.MaxConcurrent = 1
	cfg := baseConfig(pa)
	cfg.Server.MaxConcurrentStreams = 1
	srv, base := startFaultProxy(t, cfg)
	hc := httpClient(t)
	held := openStreams(t, hc, base, 1)

	start := time.Now()
	// Global stream bound, Anthropic client.
	resp, b := do(t, hc, http.MethodPost, base+"/v1/messages",
		`{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"})
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"type":"error"`) {
		t.Fatalf("stream over the bound: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	// Provider bound (no queue): a plain request, OpenAI client.
	r := chat(t, hc, base, false, nil)
	if r.status != 429 || r.retryAfter == "" {
		t.Fatalf("request over the provider bound: %+v", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("rejections took %v: they must not queue", d)
	}
	if got := <-held; got.status != 200 || !got.done || got.text != faults.Content(4) {
		t.Fatalf("admitted stream: %+v", got)
	}
	waitIdle(t, srv, hc)
}

// TestActiveHealthChecks: with health_check set, a disabled key the
// upstream accepts again is put back in service, and a key the upstream
// rejects is taken out, without any client request.
func TestActiveHealthChecks(t *testing.T) {
	checkLeaks(t)
	a := startFaults(t, faults.Script{})
	pa := faultProvider("a", a.URL(), 2)
	pa.HealthCheck.Interval = 30 * time.Millisecond
	pa.HealthCheck.Timeout = time.Second
	srv, _ := startFaultProxy(t, baseConfig(pa))
	pool := srv.current().ups["a"].pool
	waitState := func(want keypool.State) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			ok := true
			for _, k := range pool.Snapshot() {
				ok = ok && k.State == want
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("keys %+v, want all %v", pool.Snapshot(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	pool.Disable("key#0")
	pool.Disable("key#1")
	waitState(keypool.Healthy)
	a.SetDefault(faults.Script{Kind: faults.Status, Status: 401})
	waitState(keypool.Disabled)
	for _, r := range a.Log() {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.Path, "/models") {
			t.Fatalf("health check sent %s %s", r.Method, r.Path)
		}
	}
}

func TestBreakerMetric(t *testing.T) {
	for st, want := range map[breaker.State]int{breaker.Closed: metrics.BreakerClosed, breaker.HalfOpen: metrics.BreakerHalfOpen, breaker.Open: metrics.BreakerOpen} {
		if got := breakerMetric(st); got != want {
			t.Errorf("breakerMetric(%v) = %d, want %d", st, got, want)
		}
	}
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
