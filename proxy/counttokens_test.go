package proxy

import (
	"strings"
	"testing"

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
