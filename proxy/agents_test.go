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
