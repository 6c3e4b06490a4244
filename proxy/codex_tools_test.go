package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestCodexToolsThroughChatUpstream: Codex's namespace, custom and hosted
// tools reach a Chat upstream as function tools (hosted ones dropped and
// named on the access line), and the upstream's calls come back to the
// Responses client under the names it declared.
func TestCodexToolsThroughChatUpstream(t *testing.T) {
	var mu sync.Mutex
	var seen []byte
	base := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = b
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
{"id":"c1","type":"function","function":{"name":"collab__send_message","arguments":"{\"target\":\"lead\",\"message\":\"hi\"}"}},
{"id":"c2","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\\n*** End Patch\"}"}}]},"finish_reason":"tool_calls"}],
"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`)
	}))
	core, logs := observer.New(zap.InfoLevel)
	_, url := startLoggedProxy(t, baseConfig(openaiProvider("oai", base, "gpt-5.1-codex")), zap.New(core))
	fixture, err := os.ReadFile("../providers/convert/testdata/in/responses_codex_tools.json")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(fixture), `"stream": true`, `"stream": false`, 1)
	res, out := do(t, httpClient(t), "POST", url+"/v1/responses", body, bearer(testKey))
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, out)
	}
	var resp struct {
		Output []map[string]any `json:"output"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Output) != 2 {
		t.Fatalf("output: %v %s", err, out)
	}
	if o := resp.Output[0]; o["type"] != "function_call" || o["namespace"] != "collab" || o["name"] != "send_message" {
		t.Errorf("namespaced call came back as %v", o)
	}
	if o := resp.Output[1]; o["type"] != "custom_tool_call" || o["name"] != "apply_patch" || o["input"] != "*** Begin Patch\n*** End Patch" {
		t.Errorf("custom call came back as %v", o)
	}
	mu.Lock()
	up := string(seen)
	mu.Unlock()
	if !strings.Contains(up, `"name":"collab__send_message"`) || strings.Contains(up, "web_search") {
		t.Errorf("upstream body: %s", up)
	}
	var dropped string
	for _, e := range logs.FilterMessage("request").All() {
		if v, ok := e.ContextMap()["dropped_tools"].(string); ok {
			dropped = v
		}
	}
	if dropped != "web_search,image_generation" {
		t.Errorf("access line dropped_tools = %q, want web_search,image_generation", dropped)
	}
}
