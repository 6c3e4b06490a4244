package wire

import "testing"

func TestModelNames(t *testing.T) {
	tests := []struct {
		model  string
		ok     bool
		gemini string // "" when it must not reach a Gemini URL
	}{
		{"gpt-4o-2024-08-06", true, "models/gpt-4o-2024-08-06"},
		{"ft:gpt-4o-mini:org:custom:id", true, "models/ft:gpt-4o-mini:org:custom:id"},
		{"claude-sonnet-4@20250514", true, "models/claude-sonnet-4@20250514"},
		{"meta-llama/Llama-3-70b", true, ""},
		{"models/gemini-2.5-pro", true, "models/gemini-2.5-pro"},
		{"tunedModels/my-model", true, "tunedModels/my-model"},
		{"tunedModels/a/b", true, ""},
		{"x/../../admin", false, ""},
		{"x%2F..%2Fadmin", false, ""},
		{"../admin", false, ""},
		{"/admin", false, ""},
		{"a//b", false, ""},
		{"gpt 4", false, ""},
		{"gpt-4?key=x", false, ""},
		{"gpt-4#x", false, ""},
		{"", false, ""},
		{string(make([]byte, 300)), false, ""},
	}
	for _, tc := range tests {
		if got := CheckModelName(tc.model) == ""; got != tc.ok {
			t.Errorf("CheckModelName(%q) ok = %v, want %v", tc.model, got, tc.ok)
		}
		path, ok := GeminiModelPath(tc.model)
		if ok != (tc.gemini != "") || path != tc.gemini {
			t.Errorf("GeminiModelPath(%q) = %q %v, want %q", tc.model, path, ok, tc.gemini)
		}
	}
}
