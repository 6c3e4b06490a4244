package wire

import (
	"encoding/json"
	"testing"
)

func TestAppendError(t *testing.T) {
	tests := []struct {
		p    Protocol
		k    Kind
		want string
	}{
		{OpenAIChat, ModelNotFound, `{"error":{"message":"m \"x\"","type":"invalid_request_error","param":"model","code":"model_not_found"}}`},
		{OpenAIResponses, RateLimited, `{"error":{"message":"m \"x\"","type":"rate_limit_error","param":"model","code":"rate_limit_exceeded"}}`},
		{Anthropic, Unavailable, `{"type":"error","error":{"type":"overloaded_error","message":"m \"x\""}}`},
		{Gemini, Authentication, `{"error":{"code":401,"message":"m \"x\"","status":"UNAUTHENTICATED"}}`},
	}
	for _, tt := range tests {
		got := string(AppendError(nil, tt.p, tt.k, `m "x"`, "model"))
		if got != tt.want {
			t.Errorf("%v %v:\n got %s\nwant %s", tt.p, tt.k, got, tt.want)
		}
	}
}

func TestKindStatusRoundTrip(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504} {
		if got := KindForStatus(status).Status(); got != status {
			t.Errorf("KindForStatus(%d).Status() = %d", status, got)
		}
	}
	if KindForStatus(529) != Unavailable || KindForStatus(422) != InvalidRequest {
		t.Error("529 must be overloaded (503) and other 4xx invalid requests")
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" back \\ slash", "ctl \x00\x01\x1f\n\r\t", "<html>&", "ünïcødé ✓"} {
		var back string
		if err := json.Unmarshal(AppendJSONString(nil, s), &back); err != nil || back != s {
			t.Errorf("%q: round trip gave %q, %v", s, back, err)
		}
	}
}
