package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmproxy/proxy/proxy/config"
)

// siStreamUpstream answers every stream request with the SSE text its
// X-Test-Answer header names, then closes or hangs up.
func siStreamUpstream(t *testing.T) string {
	chunk := func(text string) string {
		return `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` + text + `"},"finish_reason":null}]}` + "\n\n"
	}
	keyError := `data: {"error":{"message":"Incorrect API key provided: ` + upstreamKey + `","type":"invalid_request_error","code":"invalid_api_key"}}` + "\n\n"
	answers := map[string]string{
		"first-error": keyError,
		"mid-error":   chunk("Hello") + keyError,
		"fragment":    chunk("Hello") + `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"SECRET-HALF`,
	}
	return startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, answers[r.Header.Get("X-Test-Answer")])
		w.(http.Flusher).Flush()
		if r.Header.Get("X-Test-Answer") == "fragment" {
			// Hang up in the middle of an event, without chunked encoding's end.
			hj, _ := w.(http.Hijacker)
			c, _, err := hj.Hijack()
			if err == nil {
				_ = c.Close()
			}
		}
	}))
}

// TestStreamErrorsCarryNoSecrets: an upstream error event that quotes the
// operator's key reaches the client redacted, first event or mid-stream,
// passed through or converted; a transport failure is described without
// socket addresses; a cut last event is dropped, not relayed.
func TestStreamErrorsCarryNoSecrets(t *testing.T) {
	up := siStreamUpstream(t)
	p := openaiProvider("up", up, "m")
	p.FirstByteTimeout = 2 * time.Second
	cfg := baseConfig(p)
	cfg.Retry = config.Retry{MaxAttempts: 1, PerTarget: 1, MaxTotal: 5 * time.Second}
	_, base := startFaultProxy(t, cfg)
	hc := httpClient(t)
	anthropic := `{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct {
		name, path, body, answer, want string
	}{
		{"pass-through first event", "/v1/chat/completions", chatBody("m", true), "first-error", "[REDACTED]"},
		{"pass-through mid-stream", "/v1/chat/completions", chatBody("m", true), "mid-error", "[REDACTED]"},
		{"converted mid-stream", "/v1/messages", anthropic, "mid-error", "error"},
		{"pass-through cut event", "/v1/chat/completions", chatBody("m", true), "fragment", "ended before"},
		{"converted cut event", "/v1/messages", anthropic, "fragment", "ended before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("X-Test-Answer", tc.answer)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out := string(b)
			if strings.Contains(out, upstreamKey) {
				t.Fatalf("the operator's key reached the client:\n%s", out)
			}
			if strings.Contains(out, "127.0.0.1") {
				t.Fatalf("a socket address reached the client:\n%s", out)
			}
			if strings.Contains(out, "SECRET-HALF") {
				t.Fatalf("the fragment of a cut event was relayed:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("answer lacks %q:\n%s", tc.want, out)
			}
		})
	}
}
