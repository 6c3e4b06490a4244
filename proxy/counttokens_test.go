package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/llmproxy/proxy/proxy/config"
	"github.com/valyala/fastjson"
)

// TestAnthropicCountTokensBody checks that count_tokens takes the body the
// Anthropic API takes (no max_tokens) and names the field of a bad one,
// both answered in Anthropic's error shape, and that a Messages body
// without max_tokens is refused with the field in the message (Anthropic
// errors carry no param).
func TestAnthropicCountTokensBody(t *testing.T) {
	_, base := startProxy(t, baseConfig(mockProvider("local", 3, "local-gpt")))
	c := httpClient(t)
	hdr := map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}
	tests := []struct {
		name, path, body string
		status           int
		want             string // in the error message, or "input_tokens" for a count
	}{
		{"count", "/v1/messages/count_tokens", `{"model":"local-gpt","messages":[{"role":"user","content":"hi"}]}`, 200, "input_tokens"},
		{"count/no-messages", "/v1/messages/count_tokens", `{"model":"local-gpt"}`, 400, "messages"},
		{"count/no-model", "/v1/messages/count_tokens", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"messages/no-max-tokens", "/v1/messages", `{"model":"local-gpt","messages":[{"role":"user","content":"hi"}]}`, 400, "max_tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := do(t, c, "POST", base+tc.path, tc.body, hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			v, err := fastjson.ParseBytes(b)
			if err != nil {
				t.Fatalf("body %q: %v", b, err)
			}
			if tc.status == 200 {
				if v.GetInt(tc.want) <= 0 {
					t.Fatalf("count body %s", b)
				}
				return
			}
			if string(v.GetStringBytes("type")) != "error" || string(v.GetStringBytes("error", "type")) != "invalid_request_error" ||
				!strings.Contains(string(v.GetStringBytes("error", "message")), tc.want) {
				t.Fatalf("want an Anthropic invalid_request_error naming %q: %s", tc.want, b)
			}
		})
	}
}

// TestTokenCountsInEveryShape: each protocol's count endpoint answers in
// its own shape with the local count when the routed upstream speaks
// another protocol, and the same request counts the same in each; an
// upstream of the client's protocol is asked instead.
func TestTokenCountsInEveryShape(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"response.input_tokens","input_tokens":4242}`)
	}))
	resp := openaiProvider("resp", up, "gpt-resp")
	resp.Type = config.TypeOpenAIResponses
	_, base := startProxy(t, baseConfig(mockProvider("local", 3, "gpt-4o"), resp))
	c := httpClient(t)
	anth := map[string]string{"x-api-key": testKey, "anthropic-version": "2023-06-01"}
	counts := map[string]int{}
	for _, tc := range []struct {
		name, path, body, field string
		hdr                     map[string]string
	}{
		{"anthropic", "/v1/messages/count_tokens", `{"model":"gpt-4o","system":"Be brief.","messages":[{"role":"user","content":"What is the capital of France?"}]}`, "input_tokens", anth},
		{"responses", "/v1/responses/input_tokens", `{"model":"gpt-4o","instructions":"Be brief.","input":"What is the capital of France?"}`, "input_tokens", bearer(testKey)},
		{"gemini", "/v1beta/models/gpt-4o:countTokens", `{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"What is the capital of France?"}]}]}`, "totalTokens", map[string]string{"x-goog-api-key": testKey}},
		// The SDKs wrap a request with a system instruction or tools.
		{"gemini-wrapped", "/v1beta/models/gpt-4o:countTokens", `{"generateContentRequest":{"model":"models/gpt-4o","systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"What is the capital of France?"}]}]}}`, "totalTokens", map[string]string{"x-goog-api-key": testKey}},
	} {
		r, b := do(t, c, "POST", base+tc.path, tc.body, tc.hdr)
		v, err := fastjson.ParseBytes(b)
		if r.StatusCode != 200 || err != nil || v.GetInt(tc.field) <= 0 {
			t.Fatalf("%s: %d %s", tc.name, r.StatusCode, b)
		}
		if tc.name == "responses" && string(v.GetStringBytes("object")) != "response.input_tokens" {
			t.Errorf("responses count shape: %s", b)
		}
		counts[tc.name] = v.GetInt(tc.field)
	}
	if counts["gemini"] != counts["gemini-wrapped"] {
		t.Errorf("a wrapped countTokens body counts differently: %v", counts)
	}
	if counts["anthropic"] != counts["responses"] || counts["anthropic"] != counts["gemini"] {
		t.Errorf("one request, three counts: %v", counts)
	}
	// input is optional: instructions alone count.
	if r, b := do(t, c, "POST", base+"/v1/responses/input_tokens", `{"model":"gpt-4o","instructions":"Be brief."}`, bearer(testKey)); r.StatusCode != 200 ||
		!strings.Contains(string(b), `"input_tokens":`) {
		t.Errorf("input_tokens without input: %d %s", r.StatusCode, b)
	}
	if r, b := do(t, c, "POST", base+"/v1/responses/input_tokens", `{"input":"hi"}`, bearer(testKey)); r.StatusCode != 400 {
		t.Errorf("input_tokens without a model: %d %s", r.StatusCode, b)
	}
	r, b := do(t, c, "POST", base+"/v1/responses/input_tokens", `{"model":"gpt-resp","input":"hi"}`, bearer(testKey))
	if r.StatusCode != 200 || !strings.Contains(string(b), "4242") {
		t.Fatalf("pass-through count: %d %s", r.StatusCode, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || !strings.HasSuffix(seen[0], "/v1/responses/input_tokens") {
		t.Errorf("upstream saw %v", seen)
	}
}
