package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/llmproxy/proxy/proxy/config"
)

// TestCatalogShapesConvertedRequests: Claude Code's request (32,000 output
// tokens, a thinking budget) converted for gpt-4o-mini asks for what that
// model accepts; a catalog override in config wins over the built-in table;
// a model the catalog does not know gets the request as the client asked.
func TestCatalogShapesConvertedRequests(t *testing.T) {
	var mu sync.Mutex
	var last map[string]any
	base := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = nil
		_ = json.Unmarshal(b, &last)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	p := openaiProvider("oai", base, "gpt-4o-mini", "gpt-4.1", "my-local-model")
	p.Catalog = []config.ModelInfo{{Model: "gpt-4.1", MaxOutputTokens: 10000}}
	_, url := startFaultProxy(t, baseConfig(p))
	hc := httpClient(t)
	for _, tc := range []struct {
		model     string
		maxTokens float64
		effort    any
	}{
		{"gpt-4o-mini", 16384, nil},
		{"gpt-4.1", 10000, nil},
		{"my-local-model", 32000, "high"},
	} {
		body := `{"model":"` + tc.model + `","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":31999},"messages":[{"role":"user","content":"hi"}]}`
		res, out := do(t, hc, "POST", url+"/v1/messages", body, map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"})
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.model, res.StatusCode, out)
		}
		mu.Lock()
		got := last
		mu.Unlock()
		if got["max_completion_tokens"] != tc.maxTokens || got["reasoning_effort"] != tc.effort {
			t.Errorf("%s: upstream got max_completion_tokens=%v reasoning_effort=%v, want %v %v",
				tc.model, got["max_completion_tokens"], got["reasoning_effort"], tc.maxTokens, tc.effort)
		}
	}
}
