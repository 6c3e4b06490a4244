package convert

import (
	"encoding/json"
	"testing"

	"github.com/llmproxy/proxy/providers/wire"
)

// claudeCodeLike is the shape of Claude Code's main request that matters
// here: a large max_tokens and a thinking budget.
const claudeCodeLike = `{"model":"claude-sonnet-4-5","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":31999},
"messages":[{"role":"user","content":"hi"}]}`

func TestTargetKeepsRequestWithinModel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to wire.Protocol
		body     string
		target   Target
		check    func(t *testing.T, out map[string]any)
	}{
		{"non-reasoning model: no effort, output clamped", wire.Anthropic, wire.OpenAIChat, claudeCodeLike,
			Target{Known: true, MaxOutput: 16384},
			func(t *testing.T, out map[string]any) {
				want(t, out, "max_completion_tokens", 16384.0)
				absent(t, out, "reasoning_effort")
			}},
		{"reasoning model: effort kept", wire.Anthropic, wire.OpenAIChat, claudeCodeLike,
			Target{Known: true, MaxOutput: 100000, Reasoning: true},
			func(t *testing.T, out map[string]any) {
				want(t, out, "max_completion_tokens", 32000.0)
				want(t, out, "reasoning_effort", "high")
			}},
		{"unknown model: as the client asked", wire.Anthropic, wire.OpenAIChat, claudeCodeLike, Target{},
			func(t *testing.T, out map[string]any) {
				want(t, out, "max_completion_tokens", 32000.0)
				want(t, out, "reasoning_effort", "high")
			}},
		{"Anthropic target without thinking", wire.OpenAIResponses, wire.Anthropic,
			`{"model":"m","input":"hi","max_output_tokens":50000,"reasoning":{"effort":"high"}}`,
			Target{Known: true, MaxOutput: 8192},
			func(t *testing.T, out map[string]any) {
				want(t, out, "max_tokens", 8192.0)
				absent(t, out, "thinking")
			}},
		{"Anthropic default max_tokens plus budget stays under the cap", wire.OpenAIChat, wire.Anthropic,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high"}`,
			Target{Known: true, MaxOutput: 8192, Reasoning: true},
			func(t *testing.T, out map[string]any) {
				want(t, out, "max_tokens", 8192.0)
				th, _ := out["thinking"].(map[string]any)
				if b, _ := th["budget_tokens"].(float64); b < 1024 || b >= 8192 {
					t.Errorf("thinking = %v, want a budget in [1024, 8192)", out["thinking"])
				}
			}},
		{"Gemini target without thinking", wire.Anthropic, wire.Gemini, claudeCodeLike,
			Target{Known: true, MaxOutput: 8192},
			func(t *testing.T, out map[string]any) {
				gc := out["generationConfig"].(map[string]any)
				want(t, gc, "maxOutputTokens", 8192.0)
				absent(t, gc, "thinkingConfig")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Converter{Target: tc.target}
			b, err := c.Request(tc.from, tc.to, []byte(tc.body), "up", false)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			tc.check(t, out)
		})
	}
}

func want(t *testing.T, m map[string]any, k string, v any) {
	t.Helper()
	if m[k] != v {
		t.Errorf("%s = %v, want %v (body %v)", k, m[k], v, m)
	}
}

func absent(t *testing.T, m map[string]any, k string) {
	t.Helper()
	if v, ok := m[k]; ok {
		t.Errorf("%s = %v, want it absent", k, v)
	}
}
