package proxy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fastjson"
)

// TestNamedClientsAndAliases covers per-client keys with allowed models,
// model aliases, and the client's name in metrics.
func TestNamedClientsAndAliases(t *testing.T) {
	root, recs := startRecorder(t)
	cfg := baseConfig(
		openaiProvider("up", root+"/v1", "gpt-real", "other-model"),
		mockProvider("mock", 2, "mock-gpt"),
	)
	cfg.Clients = []config.Client{
		{Name: "alice", Key: "alice-key", Models: []string{"fast", "mock-gpt"}},
		{Name: "bob", Key: "bob-key"},
	}
	cfg.Aliases = map[string]string{"fast": "up/gpt-real", "cheap": "mock-gpt"}
	_, base := startProxy(t, cfg)
	c := httpClient(t)

	tests := []struct {
		name, key, model string
		status           int
		upstreamModel    string // what the recording upstream must see, if reached
	}{
		{"alias to provider/model", "alice-key", "fast", 200, "gpt-real"},
		{"allowed listed model", "alice-key", "mock-gpt", 200, ""},
		{"model outside alice's list", "alice-key", "other-model", 403, ""},
		{"alias outside alice's list", "alice-key", "cheap", 403, ""},
		{"bob may use anything", "bob-key", "other-model", 200, "other-model"},
		{"alias to a model name", "bob-key", "cheap", 200, ""},
		{"server.api_keys key", testKey, "fast", 200, "gpt-real"},
		{"unknown key", "nobody", "fast", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, c, "POST", base+"/v1/chat/completions", chatBody(tt.model, false), bearer(tt.key))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 403 {
				if typ, _, msg := openAIError(t, body); typ != "permission_error" || !strings.Contains(msg, "alice") {
					t.Fatalf("403 body %s", body)
				}
			}
			if tt.upstreamModel != "" {
				select {
				case r := <-recs:
					if got := string(fastjson.MustParseBytes(r.body).GetStringBytes("model")); got != tt.upstreamModel {
						t.Fatalf("upstream saw model %q, want %q", got, tt.upstreamModel)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("upstream not reached")
				}
			}
		})
	}

	_, models := do(t, c, "GET", base+"/v1/models", "", bearer("bob-key"))
	for _, m := range []string{`"fast"`, `"cheap"`, `"gpt-real"`} {
		if !bytes.Contains(models, []byte(m)) {
			t.Errorf("/v1/models lacks %s: %s", m, models)
		}
	}
	_, metrics := do(t, c, "GET", base+"/metrics", "", nil)
	for _, series := range []string{
		`proxy_client_requests_total{client="alice",status="200"} 2`,
		`proxy_client_requests_total{client="alice",status="403"} 2`,
		`proxy_client_requests_total{client="bob",status="200"} 2`,
	} {
		if !bytes.Contains(metrics, []byte(series)) {
			t.Errorf("metrics lack %s", series)
		}
	}
}

// TestSystemPromptOverride checks that the operator's prompt reaches the
// upstream in the upstream's protocol, for a client of another protocol.
func TestSystemPromptOverride(t *testing.T) {
	root, recs := startRecorder(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "prompt.txt")
	if err := os.WriteFile(file, []byte("Answer in French.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"append", "overwrite"} {
		t.Run(mode, func(t *testing.T) {
			cfg := baseConfig(openaiProvider("up", root+"/v1", "gpt-real"))
			cfg.SystemPrompt = config.SystemPrompt{File: file, Mode: mode}
			_, base := startProxy(t, cfg)
			body := `{"model":"gpt-real","max_tokens":50,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}`
			resp, out := do(t, httpClient(t), "POST", base+"/v1/messages", body,
				map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			r := <-recs
			msgs := fastjson.MustParseBytes(r.body).GetArray("messages")
			var system []string
			for _, m := range msgs {
				if string(m.GetStringBytes("role")) == "system" {
					system = append(system, string(m.GetStringBytes("content")))
				}
			}
			joined := strings.Join(system, "\n\n")
			if !strings.Contains(joined, "Answer in French.") {
				t.Fatalf("upstream system prompt %q lacks the operator's", joined)
			}
			if keep := strings.Contains(joined, "Be brief."); keep != (mode == "append") {
				t.Fatalf("mode %s: client's prompt kept=%v in %q", mode, keep, joined)
			}
		})
	}
}

// TestTokensFromUsage checks that token counts reported by upstream usage
// (whole answers and streams, same and converted protocols) reach metrics.
func TestTokensFromUsage(t *testing.T) {
	cfg := baseConfig(mockProvider("mock", 5, "mock-gpt"))
	_, base := startProxy(t, cfg)
	c := httpClient(t)
	do(t, c, "POST", base+"/v1/chat/completions", chatBody("mock-gpt", false), bearer(testKey))
	resp, body := do(t, c, "POST", base+"/v1/chat/completions",
		`{"model":"mock-gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, bearer(testKey))
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("[DONE]")) {
		t.Fatalf("stream: %d %s", resp.StatusCode, body)
	}
	// An Anthropic client: the proxy asks the (OpenAI) upstream for usage itself.
	do(t, c, "POST", base+"/v1/messages", `{"model":"mock-gpt","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		map[string]string{"x-api-key": testKey})
	_, metrics := do(t, c, "GET", base+"/metrics", "", nil)
	want := `proxy_tokens_total{provider="mock",model="mock-gpt",direction="output"} 15`
	if !bytes.Contains(metrics, []byte(want)) {
		t.Fatalf("metrics lack %s:\n%s", want, grepLines(string(metrics), "proxy_tokens_total"))
	}
}
