package wire

import "testing"

func TestCredentialRejected(t *testing.T) {
	tests := []struct {
		name   string
		p      Protocol
		status int
		body   string
		want   bool
	}{
		{"openai bad key", OpenAIChat, 401, `{"error":{"message":"Incorrect API key provided: sk-ab***cd.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, true},
		{"openai foreign organization", OpenAIChat, 401, `{"error":{"message":"OpenAI-Organization header should match organization for API key","type":"invalid_request_error","code":"mismatched_organization"}}`, false},
		{"openai forbidden region", OpenAIResponses, 403, `{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not supported"}}`, false},
		{"openai bare 401", OpenAIChat, 401, `{}`, false},
		{"openai no funds", OpenAIChat, 402, `{}`, true},
		{"anthropic bad key", Anthropic, 401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, true},
		{"anthropic browser origin", Anthropic, 401, `{"type":"error","error":{"type":"authentication_error","message":"CORS requests must set 'anthropic-dangerous-direct-browser-access' header"}}`, false},
		{"anthropic permission", Anthropic, 403, `{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}`, false},
		{"gemini bad key", Gemini, 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}`, true},
		{"gemini bad request", Gemini, 400, `{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}`, false},
		{"gemini user project", Gemini, 403, `{"error":{"code":403,"message":"Caller does not have required permission to use project x.","status":"PERMISSION_DENIED"}}`, false},
		{"gemini leaked key", Gemini, 403, `{"error":{"code":403,"message":"Your API key was reported as leaked. Please use another API key.","status":"PERMISSION_DENIED"}}`, true},
		{"server error never", OpenAIChat, 500, `"invalid_api_key"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CredentialRejected(tt.p, tt.status, []byte(tt.body)); got != tt.want {
				t.Fatalf("CredentialRejected = %v, want %v", got, tt.want)
			}
		})
	}
}
