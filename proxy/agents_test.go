package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/llmproxy/proxy/proxy/config"
)

// TestClaudeCodeSystemTurns: Claude Code's first request for a model it
// does not know carries "system" turns inside messages and the beta that
// allows them; an Anthropic upstream gets both as sent, another protocol
// gets the text in its system prompt.
func TestClaudeCodeSystemTurns(t *testing.T) {
	var mu sync.Mutex
	var got []string
	rec := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("anthropic-beta")+"|"+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`))
	}))
	claude := openaiProvider("claude", rec, "claude-next")
	claude.Type = config.TypeClaude
	_, base := startFaultProxy(t, baseConfig(claude, mockProvider("local", 3, "local-gpt")))
	body := `{"model":"MODEL","max_tokens":100,"system":[{"type":"text","text":"You are Claude Code."}],"messages":[` +
		`{"role":"user","content":"hi"},{"role":"system","content":"Mid-conversation note."},{"role":"user","content":"go"}]}`
	hdr := bearer(testKey)
	hdr["anthropic-version"] = "2023-06-01"
	hdr["anthropic-beta"] = "mid-conversation-system-2026-04-07"
	hc := httpClient(t)
	for _, model := range []string{"claude-next", "local-gpt"} {
		resp, b := do(t, hc, http.MethodPost, base+"/v1/messages", strings.Replace(body, "MODEL", model, 1), hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", model, resp.StatusCode, b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "mid-conversation-system-2026-04-07|") ||
		!strings.Contains(got[0], `{"role":"system","content":"Mid-conversation note."}`) {
		t.Fatalf("the Anthropic upstream got %q", got)
	}
}

// TestNoRetryHint: answers a retry cannot fix say so, as Claude Code and
// the vendors' SDKs expect; overload answers do not.
func TestNoRetryHint(t *testing.T) {
	_, base := startFaultProxy(t, baseConfig(mockProvider("local", 3, "local-gpt")))
	hc := httpClient(t)
	for _, tc := range []struct {
		key, model string
		status     int
		hint       string
	}{
		{"wrong-key", "local-gpt", 401, "false"},
		{testKey, "no-such-model", 404, "false"},
		{testKey, "", 400, "false"},
		{testKey, "local-gpt", 200, ""},
	} {
		body := `{"model":"` + tc.model + `","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
		resp, b := do(t, hc, http.MethodPost, base+"/v1/messages", body, map[string]string{"x-api-key": tc.key})
		if resp.StatusCode != tc.status || resp.Header.Get("X-Should-Retry") != tc.hint {
			t.Errorf("%s/%s: %d with x-should-retry %q, want %d %q: %s", tc.key, tc.model, resp.StatusCode,
				resp.Header.Get("X-Should-Retry"), tc.status, tc.hint, b)
		}
	}
}

// TestModelRetrieve: the SDKs' models.retrieve (GET /v1/models/{id},
// /v1beta/models/{id}) answers in the client's shape, 404 for unknown.
func TestModelRetrieve(t *testing.T) {
	cfg := baseConfig(mockProvider("local", 3, "local-gpt"))
	cfg.Aliases = map[string]string{"fast": "local-gpt"}
	_, base := startFaultProxy(t, cfg)
	hc := httpClient(t)
	anthropic := map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}
	for _, tc := range []struct {
		path   string
		hdr    map[string]string
		status int
		want   string
	}{
		{"/v1/models/local-gpt", bearer(testKey), 200, `{"id":"local-gpt","object":"model"`},
		{"/v1/models/fast", bearer(testKey), 200, `"id":"fast"`},
		{"/v1/models/local-gpt", anthropic, 200, `{"type":"model","id":"local-gpt"`},
		{"/v1beta/models/local-gpt", map[string]string{"x-goog-api-key": testKey}, 200, `{"name":"models/local-gpt"`},
		{"/v1/models/nope", bearer(testKey), 404, `"code":"model_not_found"`},
		{"/v1beta/models/nope", map[string]string{"x-goog-api-key": testKey}, 404, `"status":"NOT_FOUND"`},
		{"/v1/models/local-gpt", nil, 401, `"invalid_api_key"`},
	} {
		resp, b := do(t, hc, http.MethodGet, base+tc.path, "", tc.hdr)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %s: %d %s, want %d with %s", tc.path, resp.StatusCode, b, tc.status, tc.want)
		}
	}
}

// TestSmallThinkingBudgetRaised: Claude Code's small calls ask for a
// thinking budget under Anthropic's minimum; the upstream gets the minimum
// instead of refusing the call.
func TestSmallThinkingBudgetRaised(t *testing.T) {
	seen := make(chan string, 1)
	rec := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- string(b)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`))
	}))
	claude := openaiProvider("claude", rec, "claude-haiku")
	claude.Type = config.TypeClaude
	_, base := startFaultProxy(t, baseConfig(claude))
	body := `{"model":"claude-haiku","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":500},"messages":[{"role":"user","content":"title?"}]}`
	resp, b := do(t, httpClient(t), http.MethodPost, base+"/v1/messages", body, map[string]string{"x-api-key": testKey})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if got := <-seen; !strings.Contains(got, `"thinking":{"type":"enabled","budget_tokens":1024}`) {
		t.Fatalf("upstream got %s", got)
	}
}
