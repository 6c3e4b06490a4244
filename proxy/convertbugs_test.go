package proxy

import (
	"testing"

	"github.com/llmproxy/proxy/providers/convert"
	"github.com/llmproxy/proxy/providers/wire"
	"github.com/valyala/fastjson"
)

// Converter bugs found by the protocol matrix. providers/convert belongs to
// another agent, so each is recorded here as a test that fails today and is
// skipped until the converter is fixed: remove the Skip then.

// TestConvertBug_GenericServerTypeTurns4xxInto500: an upstream 4xx whose
// body names only a generic server-side type (OpenAI "server_error",
// Anthropic "api_error", Gemini "INTERNAL") is converted to a 500, so a
// client of another protocol sees an internal error instead of the rate
// limit (no back-off) or the not-found. refineKind's api_error/INTERNAL/
// server_error case raises every kind below Internal; the HTTP status
// should win over a generic type.
func TestConvertBug_GenericServerTypeTurns4xxInto500(t *testing.T) {
	t.Skip("converter bug: UpstreamError turns a 4xx with a generic server_error/api_error/INTERNAL body into 500")
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
