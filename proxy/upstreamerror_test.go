package proxy

import (
	"testing"

	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// TestUpstreamErrorStatusBeatsGenericType: an upstream 4xx whose body
// names only a generic server-side type (OpenAI "server_error", Anthropic
// "api_error", Gemini "INTERNAL") keeps its status when converted, so that a
// client of another protocol sees the rate limit (and backs off) or the
// not-found, not an internal error. Found by the protocol matrix.
func TestUpstreamErrorStatusBeatsGenericType(t *testing.T) {
	tests := []struct {
		from   wire.Protocol
		status int
		body   string
	}{
		{wire.OpenAIChat, 429, `{"error":{"message":"slow down","type":"server_error","param":null,"code":null}}`},
		{wire.OpenAIChat, 404, `{"error":{"message":"no such thing","type":"server_error","param":null,"code":null}}`},
		{wire.Anthropic, 429, `{"type":"error","error":{"type":"api_error","message":"slow down"}}`},
		{wire.Gemini, 429, `{"error":{"code":429,"message":"slow down","status":"INTERNAL"}}`},
	}
	for _, tc := range tests {
		for _, to := range []wire.Protocol{wire.OpenAIChat, wire.OpenAIResponses, wire.Anthropic, wire.Gemini} {
			if to == tc.from {
				continue
			}
			status, body := convert.UpstreamError(tc.from, to, tc.status, []byte(tc.body))
			if status != tc.status {
				t.Errorf("%s %d -> %s: status %d, want %d (%s)", tc.from, tc.status, to, status, tc.status, body)
			}
			if fastjson.ValidateBytes(body) != nil {
				t.Errorf("%s -> %s: body is not JSON: %s", tc.from, to, body)
			}
		}
	}
}
