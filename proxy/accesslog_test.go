package proxy

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestAccessLineSaysWhy: a refused request's access line carries the model
// it asked for (capped), the error kind and the reason, on one line.
func TestAccessLineSaysWhy(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	srv, base := startLoggedProxy(t, baseConfig(mockProvider("local", 3, "local-gpt")), zap.New(core))
	hc := httpClient(t)
	long := strings.Repeat("m", 5000)
	for model, status := range map[string]int{"no-such-model": 404, long: 400} {
		if resp, b := do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody(model, false), bearer(testKey)); resp.StatusCode != status {
			t.Fatalf("status %d %s", resp.StatusCode, b)
		}
	}
	_ = srv.log.Sync()
	var lines []map[string]any
	for _, e := range logs.FilterMessage("request").All() {
		lines = append(lines, e.ContextMap())
	}
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2", len(lines))
	}
	if lines[0]["model"] != "no-such-model" {
		lines[0], lines[1] = lines[1], lines[0]
	}
	if lines[0]["model"] != "no-such-model" || lines[0]["error_kind"] != "model_not_found" ||
		!strings.Contains(lines[0]["reason"].(string), "not served by this proxy") {
		t.Fatalf("access line %v", lines[0])
	}
	if m := lines[1]["model"].(string); len(m) > 210 || !strings.HasPrefix(m, "mmmm") {
		t.Fatalf("a 5000-byte model logged as %d bytes", len(m))
	}
	if r := lines[1]["reason"].(string); len(r) > 210 {
		t.Fatalf("reason of %d bytes", len(r))
	}
}

// TestDebugAndPromptLogSayMore: at debug level each upstream attempt gets
// its own line (provider, key label, status); a refused request's body
// reaches the prompt log like any other.
func TestDebugAndPromptLogSayMore(t *testing.T) {
	var calls atomic.Int32
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) == 1 {
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"error":{"message":"boom","type":"server_error"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`))
	}))
	core, logs := observer.New(zap.DebugLevel)
	p := openaiProvider("up", up, "m")
	p.APIKeys = []string{"k-one-123", "k-two-456"}
	cfg := baseConfig(p)
	cfg.Retry = config.Retry{MaxAttempts: 2, PerTarget: 2, BaseBackoff: time.Millisecond, MaxTotal: 5 * time.Second}
	path := filepath.Join(t.TempDir(), "prompts.log")
	cfg.PromptLog = config.PromptLog{Mode: "file", Path: path, MaxBytes: 1 << 20, MaxFiles: 1}
	srv, base := startLoggedProxy(t, cfg, zap.New(core))
	hc := httpClient(t)
	if resp, b := do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody("m", false), bearer(testKey)); resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, b)
	}
	if resp, _ := do(t, hc, http.MethodPost, base+"/v1/chat/completions", `{"model":"m","messages":[`, bearer(testKey)); resp.StatusCode != 400 {
		t.Fatalf("broken JSON: %d", resp.StatusCode)
	}
	if resp, _ := do(t, hc, http.MethodPost, base+"/v1/chat/completions", chatBody("not-served", false), bearer(testKey)); resp.StatusCode != 404 {
		t.Fatalf("unknown model: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx) // flushes the prompt log
	attempts := logs.FilterMessage("upstream attempt").All()
	if len(attempts) != 2 {
		t.Fatalf("%d attempt lines, want 2", len(attempts))
	}
	first, second := attempts[0].ContextMap(), attempts[1].ContextMap()
	if first["status"] != int64(500) || second["status"] != int64(200) || first["key"] == second["key"] || first["key"] == "" {
		t.Fatalf("attempt lines %v %v", first, second)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 || !strings.Contains(string(b), `"model":"not-served"`) || !strings.Contains(string(b), `{\"model\":\"m\",\"messages\":[`) {
		t.Fatalf("prompt log (%d lines):\n%s", n, b)
	}
}
