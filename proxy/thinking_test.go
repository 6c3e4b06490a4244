package proxy

import "testing"

func TestRaiseThinkingBudget(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"model":"c","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":500},"messages":[]}`,
			`{"model":"c","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[]}`},
		{`{"model":"c","max_tokens":512,"thinking":{"type":"enabled","budget_tokens":500},"messages":[]}`,
			`{"model":"c","max_tokens":512,"thinking":{"type":"disabled"},"messages":[]}`},
		{`{"model":"c","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[]}`,
			`{"model":"c","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[]}`},
		{`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"budget_tokens"}]}`,
			`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"budget_tokens"}]}`},
	}
	for _, tc := range tests {
		got, err := raiseThinkingBudget([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("raiseThinkingBudget(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
