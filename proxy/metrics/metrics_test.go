package metrics

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// scrape parses the exposition into series -> value and fails on lines
// that are not valid "series value" samples or comments.
func scrape(t *testing.T, s *Set) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	s.WritePrometheus(&buf)
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad sample line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", line, err)
		}
		if _, dup := out[line[:i]]; dup {
			t.Fatalf("duplicate series %q", line[:i])
		}
		out[line[:i]] = v
	}
	return out
}

func newTestSet() *Set {
	return New(Options{Providers: []string{"openai-main", "anthropic"}, Models: []string{"gpt-4o", "claude-sonnet"}})
}

func TestObserveRequestSeries(t *testing.T) {
	s := newTestSet()
	s.ObserveRequest("openai", "openai-main", "gpt-4o", 200, 300*time.Millisecond, 299*time.Millisecond, 120, 4000)
	s.ObserveRequest("openai", "openai-main", "gpt-4o", 200, 3*time.Second, 2990*time.Millisecond, 80, 1000)
	s.ObserveRequest("openai", "openai-main", "gpt-4o", 429, 40*time.Millisecond, 39*time.Millisecond, 10, 10)
	s.ObserveRequest("anthropic", "openai-main", "gpt-4o", 401, 2*time.Millisecond, 0, 50, 90)
	got := scrape(t, s)

	oi := `ingress="openai",provider="openai-main",model="gpt-4o"`
	want := map[string]float64{
		`proxy_requests_total{` + oi + `,status="200"}`:                                                2,
		`proxy_requests_total{` + oi + `,status="429"}`:                                                1,
		`proxy_requests_total{ingress="anthropic",provider="openai-main",model="gpt-4o",status="401"}`: 1,
		`proxy_request_duration_seconds_count{` + oi + `}`:                                             3,
		`proxy_request_duration_seconds_bucket{` + oi + `,le="0.05"}`:                                  1,
		`proxy_request_duration_seconds_bucket{` + oi + `,le="0.5"}`:                                   2,
		`proxy_request_duration_seconds_bucket{` + oi + `,le="2.5"}`:                                   2,
		`proxy_request_duration_seconds_bucket{` + oi + `,le="5"}`:                                     3,
		`proxy_request_duration_seconds_bucket{` + oi + `,le="+Inf"}`:                                  3,
		`proxy_request_duration_seconds_sum{` + oi + `}`:                                               3.34,
		// The 401 never reached upstream: no upstream sample for it.
		`proxy_upstream_duration_seconds_count{provider="openai-main",model="gpt-4o"}`:               3,
		`proxy_overhead_duration_seconds_count{ingress="openai",provider="openai-main"}`:             3,
		`proxy_overhead_duration_seconds_bucket{ingress="openai",provider="openai-main",le="0.001"}`: 2,
		`proxy_overhead_duration_seconds_bucket{ingress="openai",provider="openai-main",le="0.01"}`:  3,
		`proxy_overhead_duration_seconds_sum{ingress="anthropic",provider="openai-main"}`:            0.002,
		`proxy_request_bytes_total{ingress="openai",provider="openai-main"}`:                         210,
		`proxy_response_bytes_total{ingress="openai",provider="openai-main"}`:                        5010,
		`proxy_active_streams`: 0,
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing series %s", k)
			continue
		}
		if diff := g - v; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
}

func TestLabelsAreBounded(t *testing.T) {
	s := newTestSet()
	for i := 0; i < 50; i++ {
		m := "client-invented-model-" + strconv.Itoa(i)
		s.ObserveRequest("openai", "openai-main", m, 200, time.Millisecond, 0, 1, 1)
		s.ObserveRequest("websocket", "rogue", m, 999, time.Millisecond, 0, 1, 1)
		s.AddTokens("rogue", m, 1, 1)
	}
	got := scrape(t, s)
	if v := got[`proxy_requests_total{ingress="openai",provider="openai-main",model="other",status="200"}`]; v != 50 {
		t.Fatalf("unknown models not folded into other: %v", v)
	}
	if v := got[`proxy_requests_total{ingress="other",provider="other",model="other",status="other"}`]; v != 50 {
		t.Fatalf("unknown ingress/provider/status not folded into other: %v", v)
	}
	if v := got[`proxy_tokens_total{provider="other",model="other",direction="input"}`]; v != 50 {
		t.Fatalf("tokens: %v", v)
	}
	for k := range got {
		if strings.Contains(k, "client-invented") || strings.Contains(k, "rogue") {
			t.Fatalf("unbounded label leaked: %s", k)
		}
	}
}

func TestSetLabelsOnReload(t *testing.T) {
	s := newTestSet()
	s.ObserveTTFT("gemini", "google", "gemini-pro", time.Second)
	s.SetLabels([]string{"google"}, []string{"gemini-pro"})
	s.ObserveTTFT("gemini", "google", "gemini-pro", time.Second)
	got := scrape(t, s)
	if got[`proxy_ttft_seconds_count{ingress="gemini",provider="other",model="other"}`] != 1 ||
		got[`proxy_ttft_seconds_count{ingress="gemini",provider="google",model="gemini-pro"}`] != 1 {
		t.Fatalf("ttft series before/after reload wrong: %v", got)
	}
}

func TestProviderCountersAndGauges(t *testing.T) {
	s := newTestSet()
	s.Retry("anthropic")
	s.Retry("anthropic")
	s.Cooldown("anthropic")
	s.Failover("anthropic", "openai-main")
	s.SetBreakerState("anthropic", BreakerOpen)
	s.AddTokens("anthropic", "claude-sonnet", 100, 25)
	s.StreamStarted()
	s.StreamStarted()
	s.StreamEnded()
	inUse, waiting := 7.0, 2.0
	s.RegisterPoolGauges("anthropic", func() float64 { return inUse }, func() float64 { return waiting })
	got := scrape(t, s)
	want := map[string]float64{
		`proxy_retries_total{provider="anthropic"}`:                                         2,
		`proxy_cooldowns_total{provider="anthropic"}`:                                       1,
		`proxy_failovers_total{from="anthropic",to="openai-main"}`:                          1,
		`proxy_breaker_state{provider="anthropic"}`:                                         2,
		`proxy_tokens_total{provider="anthropic",model="claude-sonnet",direction="input"}`:  100,
		`proxy_tokens_total{provider="anthropic",model="claude-sonnet",direction="output"}`: 25,
		`proxy_active_streams`: 1,
		`proxy_upstream_pool_connections{provider="anthropic",state="in_use"}`:  7,
		`proxy_upstream_pool_connections{provider="anthropic",state="waiting"}`: 2,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v (present=%v), want %v", k, got[k], hasKey(got, k), v)
		}
	}

	// Re-registering swaps callbacks instead of panicking on a duplicate name.
	s.RegisterPoolGauges("anthropic", func() float64 { return 1 }, func() float64 { return 0 })
	if v := scrape(t, s)[`proxy_upstream_pool_connections{provider="anthropic",state="in_use"}`]; v != 1 {
		t.Fatalf("after re-register in_use = %v", v)
	}
	s.UnregisterPoolGauges("anthropic")
	if hasKey(scrape(t, s), `proxy_upstream_pool_connections{provider="anthropic",state="in_use"}`) {
		t.Fatal("pool gauge still exported after unregister")
	}

	// Key states: one gauge per state, read at each scrape.
	counts := map[string]float64{"healthy": 2, "cooldown": 1}
	s.RegisterKeyStates("anthropic", []string{"healthy", "cooldown", "disabled"}, func(st string) float64 { return counts[st] })
	got = scrape(t, s)
	for st, want := range map[string]float64{"healthy": 2, "cooldown": 1, "disabled": 0} {
		k := `proxy_keys{provider="anthropic",state="` + st + `"}`
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present=%v), want %v", k, v, ok, want)
		}
	}
	counts["cooldown"] = 0
	s.RegisterKeyStates("anthropic", []string{"healthy", "cooldown", "disabled"}, func(st string) float64 { return counts[st] + 10 })
	if v := scrape(t, s)[`proxy_keys{provider="anthropic",state="cooldown"}`]; v != 10 {
		t.Errorf("after re-register cooldown = %v, want 10", v)
	}
	s.UnregisterKeyStates("anthropic")
	if hasKey(scrape(t, s), `proxy_keys{provider="anthropic",state="healthy"}`) {
		t.Fatal("key gauge still exported after unregister")
	}
}

func hasKey(m map[string]float64, k string) bool { _, ok := m[k]; return ok }

func TestLabelEscaping(t *testing.T) {
	s := New(Options{Providers: []string{`we"ird\prov`}, Models: []string{"line\nbreak"}})
	s.Retry(`we"ird\prov`)
	s.AddTokens(`we"ird\prov`, "line\nbreak", 1, 0)
	got := scrape(t, s)
	if got[`proxy_retries_total{provider="we\"ird\\prov"}`] != 1 {
		t.Fatalf("escaped provider label missing: %v", got)
	}
	if got[`proxy_tokens_total{provider="we\"ird\\prov",model="line\nbreak",direction="input"}`] != 1 {
		t.Fatalf("escaped model label missing: %v", got)
	}
}

func TestCallerBufferReuseDoesNotCorruptLabels(t *testing.T) {
	// fasthttp hands out strings that alias reused buffers; the Set must
	// keep its own copies.
	s := newTestSet()
	buf := []byte("gpt-4o")
	model := unsafeString(buf)
	s.ObserveRequest("openai", "openai-main", model, 200, time.Millisecond, 0, 0, 0)
	copy(buf, "XXXXXX")
	if !hasKey(scrape(t, s), `proxy_requests_total{ingress="openai",provider="openai-main",model="gpt-4o",status="200"}`) {
		t.Fatal("label text changed with the caller's buffer")
	}
}

func TestConcurrentObserve(t *testing.T) {
	s := newTestSet()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			model := []string{"gpt-4o", "claude-sonnet", "x"}[w%3]
			for i := 0; i < each; i++ {
				s.ObserveRequest("openai", "openai-main", model, 200+w%2, time.Duration(i)*time.Microsecond, 0, 1, 1)
				s.StreamStarted()
				s.StreamEnded()
			}
		}(w)
	}
	var buf bytes.Buffer
	s.WritePrometheus(&buf) // concurrent scrape must be race-free
	wg.Wait()
	var total float64
	for k, v := range scrape(t, s) {
		if strings.HasPrefix(k, "proxy_requests_total{") {
			total += v
		}
	}
	if total != workers*each {
		t.Fatalf("requests_total sums to %v, want %d", total, workers*each)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	s := newTestSet()
	s.RegisterPoolGauges("openai-main", func() float64 { return 0 }, func() float64 { return 0 })
	warm := func() {
		s.ObserveRequest("openai", "openai-main", "gpt-4o", 200, time.Second, 900*time.Millisecond, 100, 2000)
		s.ObserveTTFT("openai", "openai-main", "gpt-4o", 200*time.Millisecond)
		s.AddTokens("openai-main", "gpt-4o", 10, 20)
		s.Retry("openai-main")
		s.Failover("openai-main", "anthropic")
		s.SetBreakerState("openai-main", BreakerClosed)
		s.StreamStarted()
		s.StreamEnded()
	}
	warm()
	if n := testing.AllocsPerRun(200, warm); n != 0 {
		t.Fatalf("steady-state observations allocate %v times per run", n)
	}
}

func TestProcessMetricsOptional(t *testing.T) {
	on := New(Options{ProcessMetrics: true})
	if !hasKey(scrape(t, on), "go_goroutines") {
		t.Fatal("process metrics missing when enabled")
	}
	if hasKey(scrape(t, newTestSet()), "go_goroutines") {
		t.Fatal("process metrics present when disabled")
	}
}

func TestHandler(t *testing.T) {
	s := newTestSet()
	s.Retry("anthropic")
	addr := serveMetrics(t, s)
	tests := []struct {
		method string
		status int
		body   string
	}{
		{"GET", 200, `proxy_retries_total{provider="anthropic"} 1`},
		{"POST", 405, ""},
	}
	for _, tc := range tests {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		req.SetRequestURI("http://" + addr + "/metrics")
		req.Header.SetMethod(tc.method)
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != tc.status || !strings.Contains(string(resp.Body()), tc.body) {
			t.Errorf("%s: status %d body %q", tc.method, resp.StatusCode(), resp.Body())
		}
		if tc.status == 200 && string(resp.Header.ContentType()) != ContentType {
			t.Errorf("content type %q", resp.Header.ContentType())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
}
